"""How the ``poem`` command writes a long form a line at a time.

A sonnet, a villanelle or a limerick asks for more at once (syllables, meter, rhymes
across lines) than a small model keeps track of in one draft. Written line by line,
each line is one request of a few short samples, with the lines so far and what this
line needs spelled out ("Write line 3, in 10 to 11 syllables, ending with the word
'bay'."); code keeps the sample that fits best, judged by :func:`musekit.craft.check`
on the poem so far, and asks again while none fits. A line that must rhyme is asked
to end on a word that does (:func:`musekit_plugins.poem_rhyme.rhyme_targets`: the
poem's own nouns, then plain end words; another at each new request), and a line
that starts a rhyme must end on a word some later line can be asked for. A refrain is
copied from the line it repeats; a line that mostly repeats an earlier line or a line
of the worked examples is not kept.

The prompts are the line repair's (:mod:`musekit_plugins.poem_repair`): a fixed prefix
per form, the conversation so far, then the request and the lines in the last message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from musekit import ChatRequest, Message
from musekit.craft import check, get_form
from musekit_plugins.line_options import line_options, line_tokens
from musekit_plugins.piecewise import Fit, echoes
from musekit_plugins.poem_forms import FORM_PROMPTS, OPEN_FORMS, FormName
from musekit_plugins.poem_repair import (
    Span,
    line_request,
    line_system_prompt,
    rhyme_partner,
    syllable_target,
)
from musekit_plugins.poem_rhyme import nouns_in, rhyme_targets
from musekit_plugins.poem_text import answer_lines, last_word, poem_lines

#: Forms written a line at a time when the pipeline has more than one candidate: those a
#: small model does not write whole (rhymes across many lines, meter, refrains).
LINE_BY_LINE: frozenset[FormName] = frozenset(
    {"limerick", "shakespearean-sonnet", "petrarchan-sonnet", "villanelle", "couplets"}
)

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


@cache
def _all_example_lines() -> tuple[str, ...]:
    return tuple(line for p in FORM_PROMPTS.values() for line in poem_lines(p.poem))


@cache
def _example_lines() -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(_WORD.findall(line.lower())) for line in _all_example_lines())


@cache
def build_example(form: FormName) -> tuple[str, str]:
    """The worked example of writing one line: the example poem's first lines, up to the first
    that must rhyme with an earlier one (else its last), asked for as a line is; and that
    line."""
    lines = poem_lines(FORM_PROMPTS[form].poem)
    index = next(
        (i for i in range(len(lines)) if rhyme_partner(form, i) is not None), len(lines) - 1
    )
    topic = f"Topic: {FORM_PROMPTS[form].topic}"
    end_word = last_word(lines[index]) if rhyme_partner(form, index) is not None else None
    ask = line_request(topic, form, lines[:index], Span(index), (), end_word=end_word)
    return ask, lines[index]


@dataclass(frozen=True)
class PoemPlan:
    """A poem of ``form`` as :func:`musekit_plugins.piecewise.write_parts` writes it.

    ``request`` is the user's request as the prompts word it; ``drafting`` the drafting
    request (its sampling is used, with a line's token allowance); ``history`` the
    conversation so far; ``lines`` the line count asked for (open forms).
    """

    form: FormName
    request: str
    drafting: ChatRequest
    history: tuple[Message, ...] = ()
    lines: int | None = None
    #: Nouns the examples and every sample so far used: the rhyme swaps' words.
    nouns: list[str] = field(default_factory=lambda: nouns_in(_all_example_lines()))

    @property
    def parts(self) -> int:
        count = self.lines or get_form(self.form).lines or FORM_PROMPTS[self.form].lines
        return count

    def fixed(self, done: Sequence[str], index: int) -> str | None:
        """The line a refrain repeats, once it is written."""
        for source, repeats in get_form(self.form).refrains:
            if index + 1 in repeats and source <= len(done) and done[source - 1]:
                return done[source - 1]
        return None

    def ask(self, done: Sequence[str], index: int, attempt: int) -> ChatRequest:
        """The request for line ``index``: the lines so far and what the line needs; a line
        that must rhyme is asked to end on a word that does (another at each attempt)."""
        end_word = None
        partner = rhyme_partner(self.form, index)
        if partner is not None and partner < len(done):
            targets = rhyme_targets(last_word(done[partner]), self.nouns, _ends(done))
            end_word = targets[attempt % len(targets)] if targets else None
        example, answer = build_example(self.form)
        ask = line_request(self.request, self.form, done, Span(index), (), end_word=end_word)
        messages = (
            Message(role="system", content=line_system_prompt(self.form)),
            Message(role="user", content=example),
            Message(role="assistant", content=answer),
            *self.history,
            Message(role="user", content=ask),
        )
        sampling = self.drafting.sampling.model_copy(
            update={"max_tokens": line_tokens(syllable_target(self.form, index)), "stop": ("\n",)}
        )
        return self.drafting.model_copy(update={"messages": messages, "sampling": sampling})

    def parse(self, done: Sequence[str], index: int, answer: str) -> str | None:
        """The answer's first line, or what code makes of it (cut to length, its end noun
        swapped for a rhyme: :func:`~musekit_plugins.line_options.line_options`) when
        that fits better; ``None`` when all of it copies an earlier line or the example."""
        found = answer_lines(answer)
        if not found:
            return None
        line = found[0]
        self.nouns.extend(noun for noun in nouns_in([line]) if noun not in self.nouns)
        partner = rhyme_partner(self.form, index)
        options = line_options(
            line,
            syllables=syllable_target(self.form, index),
            rhyme_with=last_word(done[partner])
            if partner is not None and partner < len(done)
            else None,
            nouns=self.nouns,
            taken=_ends(done),
        )
        written = [_WORD.findall(d.lower()) for d in done]
        fresh = [
            option
            for option in options
            if _WORD.search(option.lower())
            and not echoes(_WORD.findall(option.lower()), (*_example_lines(), *written))
        ]
        if not fresh:
            return None
        return min(fresh, key=lambda option: self.fit(done, index, option).rank)

    def fit(self, done: Sequence[str], index: int, line: str) -> Fit:
        """The line's problems in the poem so far; a line others must rhyme with fits
        better with an end word the suggestions can rhyme."""
        report = check(self.join([*done, line]), self.form, lines=self._count())
        problems = len(report.lines[index].problems) if index < len(report.lines) else 1
        # A line later lines must rhyme with needs an end word they can be asked to end on.
        later = self._rhymes_on(index)
        if later and len(rhyme_targets(last_word(line), self.nouns, _ends(done))) < later:
            problems += 1
        return Fit(problems, report.score)

    def join(self, lines: Sequence[str]) -> str:
        """The lines, with stanza breaks as the form lays them out when they are all there."""
        layout = next((s for s in get_form(self.form).stanzas if sum(s) == len(lines)), None)
        if layout is None:
            return "\n".join(lines)
        stanzas, start = [], 0
        for size in layout:
            stanzas.append("\n".join(lines[start : start + size]))
            start += size
        return "\n\n".join(stanzas)

    def _count(self) -> int | None:
        return self.lines if self.form in OPEN_FORMS else None

    def _rhymes_on(self, index: int) -> int:
        """How many later lines must rhyme with line ``index``."""
        return sum(rhyme_partner(self.form, later) == index for later in range(self.parts))


def _ends(lines: Sequence[str]) -> list[str]:
    return [last_word(line) for line in lines]
