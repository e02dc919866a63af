"""Poetic forms as data: line counts, syllables, rhyme schemes, meter, refrains, stanzas."""

from __future__ import annotations

from dataclasses import dataclass

Range = tuple[int, int]
"""An inclusive (fewest, most) range."""


@dataclass(frozen=True)
class Form:
    """What a poetic form asks for; ``None`` or empty means "no constraint".

    ``syllables`` and ``beats`` give a range per line; ``iambic_feet`` asks for
    iambic lines of that many feet (5: pentameter); ``rhyme`` lists accepted
    schemes (spaces ignored; with ``repeat_rhyme`` the scheme repeats with new
    letters to cover every line); ``refrains`` maps a line to the lines that
    repeat it (1-based); ``stanzas`` lists accepted stanza layouts, checked when
    the poem has more than one stanza.
    """

    name: str
    description: str
    lines: int | None = None
    syllables: tuple[Range, ...] | None = None
    rhyme: tuple[str, ...] = ()
    repeat_rhyme: bool = False
    iambic_feet: int | None = None
    beats: tuple[Range, ...] | None = None
    refrains: tuple[tuple[int, tuple[int, ...]], ...] = ()
    stanzas: tuple[tuple[int, ...], ...] = ()
    aliases: tuple[str, ...] = ()


_SONNET = (10, 11)
_PETRARCHAN_SESTETS = (
    "CDECDE",
    "CDCDCD",
    "CDDCDC",
    "CDEDCE",
    "CDDECE",
    "CDECED",
    "CDCDEE",
    "CDDCEE",
)

FORMS: dict[str, Form] = {
    form.name: form
    for form in (
        Form(
            name="haiku",
            description="3 lines of 5, 7 and 5 syllables",
            lines=3,
            syllables=((5, 5), (7, 7), (5, 5)),
        ),
        Form(
            name="tanka",
            description="5 lines of 5, 7, 5, 7 and 7 syllables",
            lines=5,
            syllables=((5, 5), (7, 7), (5, 5), (7, 7), (7, 7)),
        ),
        Form(
            name="limerick",
            description="5 lines rhymed AABBA; lines 1, 2 and 5 have three beats "
            "(7-11 syllables), lines 3 and 4 two (4-8)",
            lines=5,
            syllables=((7, 11), (7, 11), (4, 8), (4, 8), (7, 11)),
            rhyme=("AABBA",),
            beats=((3, 3), (3, 3), (2, 2), (2, 2), (3, 3)),
        ),
        Form(
            name="shakespearean-sonnet",
            description="14 lines of iambic pentameter (10 syllables, 11 with a feminine "
            "ending) rhymed ABAB CDCD EFEF GG",
            lines=14,
            syllables=(_SONNET,) * 14,
            rhyme=("ABAB CDCD EFEF GG",),
            iambic_feet=5,
            stanzas=((4, 4, 4, 2), (12, 2)),
            aliases=("sonnet", "shakespearean", "english-sonnet"),
        ),
        Form(
            name="petrarchan-sonnet",
            description="14 lines of iambic pentameter: an octave rhymed ABBAABBA and a "
            "sestet such as CDECDE or CDCDCD",
            lines=14,
            syllables=(_SONNET,) * 14,
            rhyme=tuple(f"ABBAABBA {sestet}" for sestet in _PETRARCHAN_SESTETS),
            iambic_feet=5,
            stanzas=((8, 6), (4, 4, 6), (4, 4, 3, 3), (8, 3, 3)),
            aliases=("petrarchan", "italian-sonnet"),
        ),
        Form(
            name="villanelle",
            description="19 lines: five tercets and a quatrain rhymed ABA, with line 1 "
            "repeated as lines 6, 12 and 18 and line 3 as lines 9, 15 and 19",
            lines=19,
            rhyme=("ABA ABA ABA ABA ABA ABAA",),
            refrains=((1, (6, 12, 18)), (3, (9, 15, 19))),
            stanzas=((3, 3, 3, 3, 3, 4),),
        ),
        Form(
            name="couplets",
            description="pairs of rhymed lines (AA BB CC ...)",
            rhyme=("AA",),
            repeat_rhyme=True,
            aliases=("couplet", "rhymed-couplets"),
        ),
        Form(
            name="free-verse",
            description="no fixed meter or rhyme; line and stanza counts when asked",
            aliases=("free",),
        ),
    )
}
"""Every form :func:`check` knows, by name."""

_ALIASES = {alias: form for form in FORMS.values() for alias in (form.name, *form.aliases)}


def get_form(name: str | Form) -> Form:
    """The form called ``name`` (case, spaces and underscores don't matter; "sonnet" works).

    Raises ``ValueError`` naming the known forms if there is no such form.
    """
    if isinstance(name, Form):
        return name
    key = "-".join(name.strip().lower().replace("_", " ").replace("-", " ").split())
    if key not in _ALIASES:
        raise ValueError(f"Unknown form '{name}'. Known forms: {', '.join(FORMS)}.")
    return _ALIASES[key]
