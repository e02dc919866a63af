"""A missing rhyme mended in code: the noun that ends a line swapped for a rhyming noun.

A small model rarely ends a line on a word that rhymes with the one it is told to,
however it is asked. When a line ends on a noun after a determiner ("... by the
fire"), another noun in that place keeps the line grammatical, and a noun with the
same stress pattern keeps its syllables and meter. :func:`rhyme_swaps` offers that
swap only then, and only with a noun the poem's own writing used after a determiner
(the worked examples, and every sample the model wrote for this poem, kept or not):
"in the garden by the fire" becomes "in the garden by the tide" when the line must
rhyme with "side", and never takes a word from outside what the poems said.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence

from musekit.craft import rhyme_strength
from musekit.craft.phonetics import lookup, word_stress_options

#: Words after which a line's last word is taken to be a noun.
DETERMINERS = frozenset(
    ("the", "a", "an", "my", "your", "his", "her", "its", "our", "their", "each", "every")
)
#: Words that may follow a noun phrase: a word between a determiner and one of these (or
#: the line's end or a comma) is taken to be a noun ("the lamp" in "the lamp of night").
AFTER_NOUN = frozenset(
    (
        *("of", "and", "in", "on", "at", "by", "with", "to", "is", "was", "are", "were"),
        *("that", "upon", "across", "along", "for", "from", "as", "or", "but", "where"),
        *("when", "into", "over", "under", "through", "like", "has", "had", "will", "can"),
    )
)

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_ENDING = re.compile(r"\b([A-Za-z]+)\s+([A-Za-z]+)(\W*)$")


def nouns_in(lines: Iterable[str]) -> list[str]:
    """The nouns of ``lines`` (a word between a determiner and a phrase's end or a word
    that follows a noun phrase, such as "of"), lowercase, each once, in order."""
    found: dict[str, None] = {}
    for line in lines:
        for phrase in re.split(r"[,;:.!?]", line.lower()):
            words = _WORD.findall(phrase)
            for before, word, after in zip(words, words[1:], [*words[2:], ""], strict=False):
                noun_like = after == "" or after in AFTER_NOUN
                if before in DETERMINERS and noun_like and word not in AFTER_NOUN and lookup(word):
                    found[word] = None
    return list(found)


def rhyme_swaps(
    line: str, rhyme_with: str, nouns: Sequence[str], taken: Collection[str] = ()
) -> list[str]:
    """``line`` with its last word, a noun (right after a determiner, or one of ``nouns``
    after a determiner and one word: "the moonlit garden"), replaced by each of ``nouns``
    that rhymes perfectly with ``rhyme_with``: those with a stress pattern the old word has
    first (they keep the line's syllables and meter). Empty when the line does not end
    on such a noun or no noun rhymes. Words in ``taken`` (the poem's other end words) and
    ``rhyme_with`` itself are not used."""
    ending = _ENDING.search(line)
    if ending is None:
        return []
    word = ending[2]
    before = [w.lower() for w in _WORD.findall(line[: ending.start(2)])]
    after_determiner = bool(before) and before[-1] in DETERMINERS
    after_adjective = len(before) > 1 and before[-2] in DETERMINERS and word.lower() in nouns
    if not (after_determiner or after_adjective):
        return []
    shapes = set(word_stress_options(word))
    used = {w.lower() for w in taken} | {rhyme_with.lower(), word.lower()}
    rhyming = [n for n in nouns if n not in used and rhyme_strength(n, rhyme_with) >= 1.0]
    rhyming.sort(key=lambda noun: not shapes & set(word_stress_options(noun)))
    return [f"{line[: ending.start(2)]}{noun}{ending[3]}" for noun in rhyming]


#: Plain words that end lines of verse, for a line that must rhyme to be asked to end on
#: (written for this project; grouped by sound).
_END_WORDS = """day way say play stay away gray bay may today pray stray sway
    night light bright sight flight white might right fight delight tonight height kite
    sea tree free me see be three knee glee key plea tea
    sky high fly eye by why lie cry goodbye sigh dry
    rain again pain lane train plain chain remain grain main
    heart part start art apart cart dart
    home roam foam dome alone stone bone known own phone tone
    sun run fun done one begun won none
    moon soon tune noon spoon june
    door more floor shore before core war store roar four
    fire desire higher wire tire choir
    sand land hand stand band grand planned
    cold old gold hold told bold fold rolled
    snow go slow know glow below flow show grow though ago
    cat hat mat that flat sat
    dog fog log frog
    fox box rocks socks clocks locks
    bed head red said dead bread spread thread
    song long strong along wrong belong
    rose nose goes knows close those grows snows
    tide side ride wide pride inside hide
    town down crown brown gown
    street feet sweet meet heat beat seat
    air chair there where hair stair care bare fair square
    ground sound round found around
    name same game came flame frame
    fall call wall all hall small tall
    tears years fears ears
    breeze trees leaves ease seas
    deep sleep keep sheep weep steep
    star far are car jar
    wave cave brave grave save gave
    cake lake make take wake awake bake
    ring sing spring bring wing thing king
    time rhyme climb chime
    wind kind mind find behind blind"""
END_WORDS = tuple(_END_WORDS.split())


def rhyme_targets(word: str, nouns: Sequence[str], taken: Collection[str] = ()) -> list[str]:
    """Words a line that must rhyme with ``word`` may be asked to end on: the poem's own
    ``nouns`` first, then :data:`END_WORDS`, each rhyming perfectly with ``word``; not
    ``word`` itself, nor a word in ``taken`` (the poem's end words so far)."""
    used = {w.lower() for w in taken} | {word.lower()}
    found: list[str] = []
    for candidate in (*nouns, *END_WORDS):
        fresh = candidate not in used and candidate not in found
        if fresh and rhyme_strength(candidate, word) >= 1.0:
            found.append(candidate)
    return found
