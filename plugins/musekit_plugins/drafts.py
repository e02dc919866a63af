"""The result of a built-in draft-check-repair command (poem, lyrics): the best draft with
its report, the other drafts as variations, and warnings when no draft passed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from musekit import Result, ResultField, Section, Variation
from musekit.refine import Candidate, CheckReport, Refined
from musekit.result import SectionStyle


class FormCheck(CheckReport, Protocol):
    """A check report that sums itself up in a line and has a JSON form (craft's reports)."""

    def summary(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=FormCheck)


@dataclass(frozen=True)
class Wording:
    """How a command names its output in fields and warnings."""

    piece: str  # "poem", "lyrics": the text the model writes
    asked: str  # "topic", "theme": what the user gave
    form: str  # "the haiku form", "the song's form"
    field: str  # the result field with the report's summary: "form", "song"
    report_key: str  # the key of the report in ``Result.data``
    style: SectionStyle = "verse"  # how the text is shown: "prose" for a story


def drafts_result(
    refined: Refined[R], *, title: str, wording: Wording, max_variations: int | None = None
) -> Result:
    """The best draft with its report; the other drafts (at most ``max_variations``) after it."""
    best = refined.best
    rounds = refined.repair_rounds
    drafts = ResultField(
        name="drafts",
        value=f"{len(refined.ranked)} checked, {rounds} repair round{'s' if rounds != 1 else ''}",
    )
    return Result(
        title=title,
        sections=[Section(body=best.text, style=wording.style)],
        fields=[_report_field(best, wording), drafts],
        warnings=_warnings(refined, wording),
        data=_data(best, wording),
        variations=[
            Variation(
                sections=[Section(body=other.text, style=wording.style)],
                fields=[_report_field(other, wording)],
                data=_data(other, wording),
            )
            for other in refined.alternatives[:max_variations]
        ],
    )


def _report_field(candidate: Candidate[R], wording: Wording) -> ResultField:
    return ResultField(name=wording.field, value=candidate.report.summary())


def _data(candidate: Candidate[R], wording: Wording) -> dict[str, Any]:
    return {wording.report_key: candidate.report.to_json(), "repair_round": candidate.round}


def _warnings(refined: Refined[R], wording: Wording) -> list[str]:
    best = refined.best
    warnings = []
    if not best.text:
        warnings.append(
            f"The model returned no {wording.piece}; try again or rephrase the {wording.asked}."
        )
    elif not best.report.passed:
        shown = "; ".join(best.report.problems[:3])
        more = len(best.report.problems) - 3
        tail = f" (and {more} more)" if more > 0 else ""
        warnings.append(
            f"No draft fully follows {wording.form}, so the closest is shown: {shown}{tail}."
        )
    if refined.stopped and not best.report.passed:
        warnings.append(refined.stopped)
    if best.truncated:
        warnings.append(f"The {wording.piece} reached the length limit and may be cut short.")
    return warnings
