"""The checks of the ``story`` command: simple, documented heuristics on plain text.

* **Point of view**: personal pronouns of the narration (dialogue in double quotes left
  out) are counted; first person when I/me/my/we... make at least 30% of them, else
  second when you/your do, else third. No pronoun at all: cannot tell.
* **Tense**: past and present verb forms of the narration are counted: the
  auxiliaries anywhere (was/were/had/did against is/am/are/has/does), and the word
  after a subject (a personal pronoun, or a capitalised name inside a sentence),
  skipping one adverb, and the commonest irregular pasts anywhere (went, came, saw,
  said, found...): an irregular past or an ``-ed`` word is past; ``-s`` after
  he/she/it/a name, a common verb's base form after I/you/we/they, or ``'s``/``'re``/
  ``'m`` is present. Past when past forms are at least 70% of them, present when at
  most 30%, mixed between; fewer than two: cannot tell.
* **Repetition loops**: a sentence of four or more words that comes twice, or a
  six-word phrase that comes three times.
* **Restating**: a sentence of six or more words copied from the story so far, or more
  than 20% of the continuation's five-word phrases found in it.
* **Length**: the continuation's words within the length's range.

The continuation must keep the point of view and tense asked for, or else those of
the story so far (when they can be told), and must not mix tenses itself.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Pov = Literal["first", "second", "third"]
Tense = Literal["past", "present"]
Length = Literal["short", "medium", "long"]

#: Words a continuation of each length aims at, and the range it must fall in.
LENGTH_WORDS: dict[Length, tuple[int, int, int]] = {
    "short": (100, 70, 150),
    "medium": (200, 140, 300),
    "long": (350, 250, 500),
}

#: A point of view holds when its pronouns are at least this share of the narration's.
POV_SHARE = 0.3
#: Past (present) tense when past forms are at least (at most) this share.
TENSE_SHARE = 0.7
#: More than this share of the continuation's five-word phrases in the story so far restates it.
COPIED_SHARE = 0.2
COPY_PHRASE = 5
COPY_SENTENCE_WORDS = 6
LOOP_PHRASE = 6
LOOP_PHRASE_TIMES = 3
LOOP_SENTENCE_WORDS = 4

_WORD = re.compile(r"[A-Za-z]+(?:['\u2019][A-Za-z]+)?")
_CURLY = "\u2019"
_QUOTED = re.compile(r'"[^"]*"|“[^”]*”')
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")


def _set(text: str) -> frozenset[str]:
    """The words of a space-separated list."""
    return frozenset(text.split())


_PRONOUNS: dict[Pov, frozenset[str]] = {
    "first": _set(
        "i me my mine myself we us our ours ourselves i'm i've i'd i'll we're we've we'd we'll"
    ),
    "second": _set("you your yours yourself yourselves you're you've you'd you'll"),
    "third": _set(
        "he him his himself she her hers herself they them their theirs themselves he's "
        "she's they're he'd she'd they'd he'll she'll they'll they've"
    ),
}
_PLURAL_SUBJECTS = _set("i you we they")
_SINGULAR_SUBJECTS = _set("he she it")
_PRESENT_CONTRACTIONS = _set(
    "i'm you're we're they're he's she's it's"
)  # 's may be "has": present either way
_PAST_AUX = _set("was were had did wasn't weren't hadn't didn't could couldn't")
_PRESENT_AUX = _set("is am are has does isn't aren't doesn't hasn't can can't")
_PLURAL_PRESENT = _set("have do don't")
_MODALS = _set("would should might must will may shall won't wouldn't shouldn't")
_ADVERBS = _set(
    "never always still just then also only even often soon now already almost not "
    "once again finally"
)
_IRREGULAR_PAST = _set(
    "went came saw knew thought felt took got made stood sat ran told held found left began "
    "heard said gave kept brought caught fell grew drew threw wrote spoke broke chose rose woke "
    "wore tore drove rode shook forgot understood meant sent spent built lost paid led met slept "
    "swept wept sank rang sang swam drank won hung struck stuck became lay laid sought fought "
    "bought taught hid bit lit slid spun strode crept knelt leapt dreamt burnt flew froze stole "
    "sold dug fled forgave"
)
#: Irregular pasts that are rarely anything else: counted wherever they stand.
_PLAIN_PAST = _set(
    "went came saw knew took got stood sat ran told held began heard said gave kept brought "
    "caught fell grew drew threw wrote spoke broke chose rose woke drove rode shook forgot "
    "understood sent became fought bought taught crept knelt flew froze stole found"
)
_NOT_PAST_ED = _set(
    "need feed seed bleed breed speed shed bed red wed exceed proceed succeed embed heed "
    "weed greed creed shred sled indeed steed"
)
_BASE_VERBS = _set(
    "walk look see know think feel take get make go come turn stand sit run hear find want "
    "need say tell open close hold wait try keep start watch smile hope remember leave reach "
    "pull push call ask move begin follow step notice wonder stop climb give pick carry "
    "realise realize love like hate wake sleep eat drink write read cry laugh nod shake "
    "touch listen breathe stare glance whisper shout fall rise lie sing dance believe "
    "decide drive ride fly stay live"
)


class StoryReport(BaseModel):
    """What the checks found in one continuation; ``problems`` are quotable in a repair."""

    model_config = ConfigDict(frozen=True)

    passed: bool
    score: float
    problems: list[str]
    words: int
    length: Length
    pov: Pov | None
    expected_pov: Pov | None
    tense: Tense | Literal["mixed"] | None
    expected_tense: Tense | None
    copied_share: float
    loops: list[str]

    def summary(self) -> str:
        """One line for the result's fields."""
        if not self.passed:
            count = len(self.problems)
            return f"story: {count} problem{'s' if count != 1 else ''}"
        parts = [f"{self.words} words"]
        if self.pov:
            parts.append(f"{self.pov} person")
        if self.tense:
            parts.append(f"{self.tense} tense")
        return ", ".join(parts) + " ok"

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (``Result.data["story_report"]``)."""
        return self.model_dump(mode="json")


def words(text: str) -> list[str]:
    """The words of ``text``, lower case, curly apostrophes made straight."""
    return [w.lower().replace(_CURLY, "'") for w in _WORD.findall(text)]


def narration(text: str) -> str:
    """``text`` without its dialogue (spans in double quotes)."""
    return _QUOTED.sub(" ", text)


def point_of_view(text: str) -> Pov | None:
    """The narration's point of view, or ``None`` when it has no personal pronoun."""
    counts = Counter[Pov]()
    for word in words(narration(text)):
        for pov, pronouns in _PRONOUNS.items():
            if word in pronouns:
                counts[pov] += 1
    total = sum(counts.values())
    if not total:
        return None
    for pov in ("first", "second"):
        if counts[pov] / total >= POV_SHARE:
            return pov
    return "third"


def verb_forms(text: str) -> tuple[int, int]:
    """Past and present verb forms counted in the narration (see the module's rules)."""
    past = present = 0
    for sentence in _SENTENCE.findall(narration(text)):
        tokens = _WORD.findall(sentence)
        subject: str | None = None
        for position, token in enumerate(tokens):
            word = token.lower().replace(_CURLY, "'")
            if word in _PAST_AUX or word in _PLAIN_PAST:
                past += 1
            elif word in _PRESENT_AUX or word in _PRESENT_CONTRACTIONS:
                present += 1
            elif subject is not None and word not in _MODALS:
                if word in _ADVERBS or word.endswith("ly"):
                    continue  # keep the subject for the verb after the adverb
                past_form, present_form = _verb_tense(subject, word)
                past += past_form
                present += present_form
            subject = _subject(token, word, position)
    return past, present


def _subject(token: str, word: str, position: int) -> str | None:
    if word in _PLURAL_SUBJECTS or word in _SINGULAR_SUBJECTS:
        return word
    if position > 0 and token[:1].isupper() and word not in _PRONOUNS["first"]:
        return "name"
    return None


def _verb_tense(subject: str, word: str) -> tuple[int, int]:
    if word in _IRREGULAR_PAST or (
        len(word) >= 4 and word.endswith("ed") and word not in _NOT_PAST_ED
    ):
        return 1, 0
    if subject in _PLURAL_SUBJECTS:
        return 0, int(word in _BASE_VERBS or word in _PLURAL_PRESENT)
    singular = len(word) >= 3 and word.endswith("s") and not word.endswith("ss")
    return 0, int(singular and word not in _PAST_AUX)


def tense(text: str) -> Tense | Literal["mixed"] | None:
    """Past, present or mixed, or ``None`` when the narration has under two verb forms."""
    past, present = verb_forms(text)
    if past + present < 2:
        return None
    share = past / (past + present)
    if share >= TENSE_SHARE:
        return "past"
    if share <= 1 - TENSE_SHARE:
        return "present"
    return "mixed"


def loops(text: str) -> list[str]:
    """Repeated sentences (four words or more), and the first six-word phrase that comes
    three times."""
    sentences = [" ".join(words(s)) for s in _SENTENCE.findall(text)]
    counted = Counter(s for s in sentences if len(s.split()) >= LOOP_SENTENCE_WORDS)
    found = [f"the sentence '{s}' comes {n} times" for s, n in counted.items() if n > 1]
    phrases = Counter(_phrases(words(text), LOOP_PHRASE))
    looping = (
        f"the phrase '{p}' comes {n} times"
        for p, n in phrases.items()
        if n >= LOOP_PHRASE_TIMES and not any(p in s for s in counted if counted[s] > 1)
    )
    first = next(looping, None)  # the first is enough: the ones after it overlap it
    return found if first is None else [*found, first]


def _phrases(tokens: list[str], size: int) -> list[str]:
    return [" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]


def copied_share(text: str, story: str) -> tuple[float, str | None]:
    """The share of ``text``'s five-word phrases found in ``story``, and the first one."""
    phrases = _phrases(words(text), COPY_PHRASE)
    if not phrases:
        return 0.0, None
    known = set(_phrases(words(story), COPY_PHRASE))
    copied = [p for p in phrases if p in known]
    return len(copied) / len(phrases), (copied[0] if copied else None)


def copied_sentences(text: str, story: str) -> list[str]:
    """Sentences of ``text`` (six words or more) that are also sentences of ``story``."""
    known = {" ".join(words(s)) for s in _SENTENCE.findall(story)}
    found = (" ".join(words(s)) for s in _SENTENCE.findall(text))
    return [s for s in found if len(s.split()) >= COPY_SENTENCE_WORDS and s in known]


def to_keep(
    story: str, pov: Pov | None = None, tense_asked: Tense | None = None
) -> tuple[Pov | None, Tense | None]:
    """The point of view and tense a continuation must keep: those asked for, else the
    story's when they can be told (a mixed tense cannot)."""
    told = tense(story)
    return pov or point_of_view(story), tense_asked or (told if told != "mixed" else None)


def check_story(
    text: str,
    story: str,
    *,
    length: Length = "short",
    pov: Pov | None = None,
    tense_asked: Tense | None = None,
) -> StoryReport:
    """Check a continuation of ``story`` (the story so far) against the rules above."""
    _, low, high = LENGTH_WORDS[length]
    count = len(words(text))
    expected_pov, expected_tense = to_keep(story, pov, tense_asked)
    found_pov, found_tense = point_of_view(text), tense(text)
    share, example = copied_share(text, story)
    copied = copied_sentences(text, story)
    repeated = loops(text)
    problems: list[str] = []
    parts: list[float] = []
    if count == 0:
        problems.append("the continuation is empty")
    if not low <= count <= high:
        problems.append(f"the continuation has {count} words, expected {low} to {high}")
        parts.append(min(count / low, high / count) if count else 0.0)
    else:
        parts.append(1.0)
    if expected_pov and found_pov and found_pov != expected_pov:
        problems.append(
            f"it is told in the {found_pov} person; keep the {expected_pov} person "
            f"({_pronoun_hint(expected_pov)})"
        )
        parts.append(0.0)
    else:
        parts.append(1.0)
    if found_tense == "mixed":
        keep = f"the {expected_tense} tense" if expected_tense else "one tense"
        problems.append(f"it mixes past and present tense; keep to {keep}")
        parts.append(0.5)
    elif expected_tense and found_tense and found_tense != expected_tense:
        problems.append(f"it is in the {found_tense} tense; keep the {expected_tense} tense")
        parts.append(0.0)
    else:
        parts.append(1.0)
    problems += [f"it repeats itself: {loop}" for loop in repeated]
    parts.append(0.0 if repeated else 1.0)
    if copied or share > COPIED_SHARE:
        what = f"the sentence '{copied[0]}'" if copied else f"phrases such as '{example}'"
        problems.append(
            f"it restates the story so far ({what}; {share:.0%} of its phrases are copied); "
            "write what happens next"
        )
        parts.append(min(1.0 - share, 0.5))
    else:
        parts.append(1.0)
    return StoryReport(
        passed=not problems,
        score=round(sum(parts) / len(parts), 3) if count else 0.0,
        problems=problems,
        words=count,
        length=length,
        pov=found_pov,
        expected_pov=expected_pov,
        tense=found_tense,
        expected_tense=expected_tense,
        copied_share=round(share, 3),
        loops=repeated,
    )


def _pronoun_hint(pov: Pov) -> str:
    return {"first": "I, we", "second": "you", "third": "he, she, they"}[pov]
