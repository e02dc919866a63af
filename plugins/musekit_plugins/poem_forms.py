"""What the ``poem`` command tells the model about each form: its rules and one worked example.

The examples are written for this project (so free to ship) and each passes
``musekit.craft.check`` for its form (a test holds them to it): a small model
imitates an example far better than it follows a description.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FormName = Literal[
    "haiku",
    "tanka",
    "limerick",
    "shakespearean-sonnet",
    "petrarchan-sonnet",
    "villanelle",
    "couplets",
    "free-verse",
]

#: Forms without a fixed line count: only these take a line count from the user.
OPEN_FORMS: tuple[FormName, ...] = ("free-verse", "couplets")


@dataclass(frozen=True)
class FormPrompt:
    """A form as the prompts describe it.

    ``rules`` completes "Write ..."; ``lines`` is the usual line count (it sizes the
    token allowance); ``topic`` and ``poem`` are the worked example.
    """

    rules: str
    lines: int
    topic: str
    poem: str


FORM_PROMPTS: dict[FormName, FormPrompt] = {
    "haiku": FormPrompt(
        rules="a haiku: three unrhymed lines of 5, 7 and 5 syllables, one clear image",
        lines=3,
        topic="the moon over a pond",
        poem="Pale moon on the pond\na frog breaks the silver light\nripples carry it",
    ),
    "tanka": FormPrompt(
        rules="a tanka: five unrhymed lines of 5, 7, 5, 7 and 7 syllables",
        lines=5,
        topic="an old letter",
        poem=(
            "Yellowed at the folds\n"
            "your letter still smells of smoke\n"
            "from the winter stove\n"
            "I read it twice by the lamp\n"
            "and fold it along your lines"
        ),
    ),
    "limerick": FormPrompt(
        rules=(
            "a limerick: five comic lines rhymed AABBA; lines 1, 2 and 5 are long "
            "(about 8 to 10 syllables), lines 3 and 4 are short (about 5 or 6)"
        ),
        lines=5,
        topic="a baker by the sea",
        poem=(
            "A baker who lived by the sea\n"
            "made loaves that were big as a tree.\n"
            "When the neighbors all came\n"
            "they each took the same:\n"
            "and they left with a slice for their tea."
        ),
    ),
    "shakespearean-sonnet": FormPrompt(
        rules=(
            "a Shakespearean sonnet: fourteen lines of about ten syllables in iambic "
            "pentameter, rhymed ABAB CDCD EFEF GG"
        ),
        lines=14,
        topic="a lighthouse keeper",
        poem=(
            "The keeper climbs the stairs at end of day\n"
            "and wipes the glass until the lens is bright;\n"
            "the boats come home across the darkened bay,\n"
            "and he becomes the keeper of the night.\n"
            "He turns the lamp that sweeps across the waves,\n"
            "a finger made of light upon the foam;\n"
            "the sailors cannot see the man who saves\n"
            "their boats, but they can see the way back home.\n"
            "He does not ask for thanks, nor want a name;\n"
            "he writes the weather in a little book,\n"
            "and every night the sea is not the same,\n"
            "but still he gives the restless sea a look.\n"
            "And when the morning comes, he climbs to bed,\n"
            "the harbor safe, and not a word is said."
        ),
    ),
    "petrarchan-sonnet": FormPrompt(
        rules=(
            "a Petrarchan sonnet: fourteen lines of about ten syllables in iambic "
            "pentameter, an octave rhymed ABBAABBA and a sestet rhymed CDECDE"
        ),
        lines=14,
        topic="an empty house",
        poem=(
            "The house stood empty when the winter came;\n"
            "the wind went in and out the broken door,\n"
            "and snow lay thin along the kitchen floor\n"
            "where once the hearth had kept a steady flame.\n"
            "No lamp was lit, and no one called a name;\n"
            "the clock stood still and ticked the hours no more;\n"
            "the coats still hung on hooks, the coats they wore,\n"
            "and all the rooms remembered just the same.\n"
            "But in the spring the house was full again,\n"
            "with boxes, dogs, and children on the stair,\n"
            "and someone lit a fire against the cold;\n"
            "and laughter filled the rooms, as it did then,\n"
            "and someone's coat was hung upon the chair;\n"
            "the house was new, although the house was old."
        ),
    ),
    "villanelle": FormPrompt(
        rules=(
            "a villanelle: nineteen lines of about ten syllables, five tercets and a "
            "quatrain, rhymed ABA; line 1 returns as lines 6, 12 and 18, line 3 as "
            "lines 9, 15 and 19"
        ),
        lines=19,
        topic="the tide",
        poem=(
            "The tide goes out, and still the tide comes in;\n"
            "we walk the line it leaves upon the sand,\n"
            "and every morning shows where we begin.\n"
            "\n"
            "The gulls are loud, the morning air is thin;\n"
            "a child runs out and takes her father's hand.\n"
            "The tide goes out, and still the tide comes in.\n"
            "\n"
            "The water finds the hollows it has been,\n"
            "and fills the castles children made and planned,\n"
            "and every morning shows where we begin.\n"
            "\n"
            "We cannot keep the water held within;\n"
            "it leaves and comes again to kiss the land.\n"
            "The tide goes out, and still the tide comes in.\n"
            "\n"
            "The sun is warm upon the children's skin;\n"
            "the old men sit and watch them where they stand,\n"
            "and every morning shows where we begin.\n"
            "\n"
            "So let it go; we do not need to win;\n"
            "the sea was never ours to understand.\n"
            "The tide goes out, and still the tide comes in,\n"
            "and every morning shows where we begin."
        ),
    ),
    "couplets": FormPrompt(
        rules="rhyming couplets: pairs of lines that rhyme (AABB...), about ten syllables a line",
        lines=8,
        topic="a city at dawn",
        poem=(
            "The streetlights fade before the birds awake,\n"
            "and bakers pull the loaves they rose to bake.\n"
            "A bus goes by with no one in its seats,\n"
            "and one by one the sun warms up the streets."
        ),
    ),
    "free-verse": FormPrompt(
        rules="a short free-verse poem: lines of natural speech, concrete and vivid",
        lines=10,
        topic="my grandmother's hands",
        poem=(
            "Her hands knew bread before they knew my name,\n"
            "flour in the creases, a map of small white rivers.\n"
            "They still fold the air at the table\n"
            "as if the dough were there,\n"
            "as if I were small enough to lift."
        ),
    ),
}
