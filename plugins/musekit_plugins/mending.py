"""Repairs that end in code: the model revises a failed draft, then code mends what is left.

Some checks fail for reasons code can fix outright (a note out of key, a text colour
too faint on its background). :class:`Mending` is a ``refine()`` ``apply_repair``
for them: each repair takes the model's revision when it is usable (else the draft
it was asked to revise), lets code mend it, and remembers what code changed, so
the result can say so. When repairs end before any draft passes (the token or time
budget ran out while the model revised), :meth:`Mending.finish` mends the drafts left
without the model. Without repair rounds (single shot) nothing is mended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from musekit.refine import Candidate, CheckReport, Refined, rank

R = TypeVar("R", bound=CheckReport)


@dataclass
class Mending:
    """``apply_repair`` for :func:`musekit.refine.refine`, recording code's changes.

    ``clean`` is the command's draft cleaner, ``usable`` says whether code can mend a
    cleaned text, and ``mend`` returns the mended text and a line per kind of change.
    """

    clean: Callable[[str], str]
    usable: Callable[[str], bool]
    mend: Callable[[str], tuple[str, list[str]]]
    changes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def apply(self, draft: str, report: CheckReport, answer: str) -> str:
        """The model's revision (or, if unusable, the draft), mended by code."""
        revised = self.clean(answer)
        mended, changes = self.mend(revised if self.usable(revised) else draft)
        mended = self.clean(mended)
        if changes:
            self.changes.setdefault(mended, tuple(changes))
        return mended

    def of(self, text: str) -> list[str]:
        """What code changed to make ``text`` (empty when it is the model's own)."""
        return list(self.changes.get(text, ()))

    def finish(
        self,
        refined: Refined[R],
        check: Callable[[str], R],
        quality: Callable[[str], float],
        most: int = 2,
    ) -> Refined[R]:
        """``refined`` with, when no draft passed, the ``most`` best drafts that code can
        mend mended too (checked, and ranked with the rest); as it is otherwise."""
        if refined.best.report.passed:
            return refined
        known = {candidate.text for candidate in refined.ranked}
        mended: list[Candidate[R]] = []
        for candidate in refined.ranked:
            if len(mended) == most:
                break
            text = self.clean(candidate.text)
            if not self.usable(text):
                continue
            fixed, changes = self.mend(text)
            fixed = self.clean(fixed)
            if not changes or fixed in known:
                continue
            known.add(fixed)
            self.changes.setdefault(fixed, tuple(changes))
            mended.append(
                Candidate(
                    text=fixed,
                    report=check(fixed),
                    quality=quality(fixed),
                    truncated=candidate.truncated,
                    round=refined.repair_rounds,
                )
            )
        ranked = tuple(rank([*refined.ranked, *mended]))
        stopped = None if ranked[0].report.passed else refined.stopped
        return replace(refined, ranked=ranked, stopped=stopped)
