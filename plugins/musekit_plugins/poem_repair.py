"""How the ``poem`` command repairs a draft that fails its form.

A draft is repaired a line at a time: the first line with a problem (or, once
every line is sound, the missing lines) is written afresh, several samples of a few
tokens each, with the checker's problems quoted and the line's needs spelled out
(syllables, the word to rhyme with, the refrain to repeat); each sample is put back
into the draft and the whole poem checked again, so code picks the line that fits.
A small model cannot count syllables, but among a few tries one often has the count,
and the next round mends the next line. A new line that merely repeats another
line of the poem (other than a refrain) is not put in. When no line is to blame
(too many lines, a stanza layout), the whole poem is rewritten instead.

Both prompts keep a fixed prefix per form (system prompt and worked example) and
put everything from the user and the draft in the last message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from musekit import ChatRequest, Message
from musekit.craft import FormReport, check, get_form
from musekit.refine import feedback
from musekit_plugins.line_options import LINE_TOKENS, line_options
from musekit_plugins.poem_forms import FORM_PROMPTS, OPEN_FORMS, FormName
from musekit_plugins.poem_rhyme import nouns_in
from musekit_plugins.poem_text import answer_lines, last_word, poem_lines, put_line

#: Lines before the one to write that its prompt shows, at most.
CONTEXT_LINES = 4

#: Problems a whole rewrite quotes, at most: a small model loses track of a long list.
MAX_QUOTED = 5


def line_system_prompt(form: FormName) -> str:
    """The fixed system prompt for writing one line of ``form``."""
    return (
        f"You are a poet writing {FORM_PROMPTS[form].rules}, one line at a time. "
        "Reply with the line only."
    )


def rewrite_system_prompt(form: FormName) -> str:
    """The fixed system prompt for rewriting a whole draft of ``form``."""
    return (
        f"You are a poet revising {FORM_PROMPTS[form].rules}. Rewrite the draft so that "
        "every problem listed is fixed, keeping its subject and images. "
        "Write only the revised poem, with no title and no notes."
    )


def syllable_target(form: FormName, index: int) -> tuple[int, int] | None:
    """Line ``index``'s syllable target (low, high) in ``form``, if the form has one."""
    spec = get_form(form)
    return spec.syllables[index] if spec.syllables and index < len(spec.syllables) else None


@dataclass(frozen=True)
class Span:
    """Lines to write: ``count`` lines from ``start`` (0-based)."""

    start: int
    count: int = 1


def target(report: FormReport, expected: int | None) -> Span | None:
    """What to write: the first line with a problem, else the missing lines; ``None`` when
    no line is to blame."""
    for index, line in enumerate(report.lines):
        if line.problems:
            return Span(index)
    if expected is not None and len(report.lines) < expected:
        return Span(len(report.lines), expected - len(report.lines))
    return None


def line_needs(
    form: FormName, index: int, lines: Sequence[str], end_word: str | None = None
) -> str:
    """What line ``index`` (0-based) of ``form`` must be, given the poem's other ``lines``.

    ``end_word`` asks for that word at the end instead of "a word that rhymes with" the
    partner line's (a small model ends a line on a word it is given far more often than
    on a word that rhymes)."""
    spec = get_form(form)
    for source, repeats in spec.refrains:
        if index + 1 in repeats and source <= len(lines):
            return f'repeating line {source} word for word: "{lines[source - 1]}"'
    needs = []
    if spec.syllables and index < len(spec.syllables):
        low, high = spec.syllables[index]
        needs.append(f"in {low} syllables" if low == high else f"in {low} to {high} syllables")
    partner = rhyme_partner(form, index)
    if partner is not None and end_word is not None:
        needs.append(f"ending with the word '{end_word}'")
    elif partner is not None and partner < len(lines) and (end := last_word(lines[partner])):
        needs.append(f"ending with a word that rhymes with '{end}'")
    return ", ".join(needs)


def rhyme_partner(form: FormName, index: int) -> int | None:
    """The earlier line that line ``index`` must rhyme with, in the form's first scheme."""
    spec = get_form(form)
    if not spec.rhyme:
        return None
    letters = spec.rhyme[0].replace(" ", "")
    base = 0
    if spec.repeat_rhyme:
        base, index = index - index % len(letters), index % len(letters)
    if index >= len(letters):
        return None
    earlier = [i for i in range(index) if letters[i] == letters[index]]
    return base + earlier[0] if earlier else None


def line_request(
    request: str,
    form: FormName,
    lines: Sequence[str],
    span: Span,
    problems: Sequence[str],
    end_word: str | None = None,
) -> str:
    """The last message of a line repair: the user's request, the lines before, the
    problems, and what to write (``end_word``: see :func:`line_needs`)."""
    shown = range(max(0, span.start - CONTEXT_LINES), min(span.start, len(lines)))
    before = "".join(f"Line {i + 1}: {lines[i]}\n" for i in shown)
    problem = f"Problem: {'; '.join(problems)}\n" if problems else ""
    if span.count == 1:
        needs = line_needs(form, span.start, lines, end_word)
        ask = f"Write line {span.start + 1}{', ' + needs if needs else ''}."
    else:
        last = span.start + span.count
        each = [
            f"line {i + 1} {needs}"
            for i in range(span.start, last)
            if (needs := line_needs(form, i, lines))
        ]
        ask = f"Write lines {span.start + 1} to {last}{': ' + '; '.join(each) if each else ''}."
    return f"{request}\n{before}{problem}{ask}"


@cache
def line_example(form: FormName) -> tuple[str, str]:
    """The worked line repair of ``form``: its example poem missing its last line, and
    that line."""
    example = FORM_PROMPTS[form]
    lines = poem_lines(example.poem)
    shortened = "\n".join(example.poem.splitlines()[:-1]).strip()
    report = check(shortened, form, lines=len(lines) if form in OPEN_FORMS else None)
    span = Span(len(lines) - 1)
    return line_request(f"Topic: {example.topic}", form, lines, span, report.problems), lines[-1]


@cache
def _rewrite_example(form: FormName) -> tuple[str, str]:
    """The worked whole rewrite of ``form``: the example with its last line missing, quoted
    with its problems, and the example whole."""
    example = FORM_PROMPTS[form]
    shortened = "\n".join(example.poem.splitlines()[:-1]).strip()
    count = len(poem_lines(example.poem))
    report = check(shortened, form, lines=count if form in OPEN_FORMS else None)
    return _rewrite_request(f"Topic: {example.topic}", shortened, report.problems), example.poem


def _rewrite_request(request: str, draft: str, problems: Sequence[str]) -> str:
    return f"{request}\n\nDraft:\n{draft}\n\nProblems:\n{feedback(problems[:MAX_QUOTED])}"


@dataclass(frozen=True)
class Repairs:
    """The repairs of one ``poem`` run: ``request`` is the user's request as the prompts
    word it, ``drafting`` the drafting request (a rewrite uses its sampling), ``lines``
    the line count the user asked for, if any."""

    form: FormName
    request: str
    drafting: ChatRequest
    lines: int | None = None

    @property
    def expected_lines(self) -> int | None:
        return self.lines or get_form(self.form).lines

    def prompt(self, text: str, report: FormReport) -> ChatRequest:
        """The repair request for a failed draft: its lines to write, or all of it."""
        span = target(report, self.expected_lines)
        if span is None:
            example, answer = _rewrite_example(self.form)
            messages = (
                Message(role="system", content=rewrite_system_prompt(self.form)),
                Message(role="user", content=example),
                Message(role="assistant", content=answer),
                Message(role="user", content=_rewrite_request(self.request, text, report.problems)),
            )
            return self.drafting.model_copy(update={"messages": messages})
        problems = (
            report.lines[span.start].problems
            if span.start < len(report.lines)
            else [p for p in report.problems if p.startswith("the poem has")]
        )
        example, answer = line_example(self.form)
        ask = line_request(self.request, self.form, poem_lines(text), span, problems)
        messages = (
            Message(role="system", content=line_system_prompt(self.form)),
            Message(role="user", content=example),
            Message(role="assistant", content=answer),
            Message(role="user", content=ask),
        )
        sampling = self.drafting.sampling.model_copy(
            update={"max_tokens": LINE_TOKENS * span.count}
        )
        return self.drafting.model_copy(update={"messages": messages, "sampling": sampling})

    def apply(self, text: str, report: FormReport, answer: str) -> str:
        """The draft with the answer put in: the written lines in their place (those that
        only repeat another line left out), or the rewritten poem."""
        span = target(report, self.expected_lines)
        if span is None:
            return answer
        refrains = {line for _, repeats in get_form(self.form).refrains for line in repeats}
        for offset, line in enumerate(answer_lines(answer)[: span.count]):
            index = span.start + offset
            others = [_words(row) for i, row in enumerate(poem_lines(text)) if i != index]
            if index + 1 not in refrains and _words(line) in others:
                break
            text = put_line(text, index, self._mended(text, index, line))
        return text

    def _mended(self, text: str, index: int, line: str) -> str:
        """The line, or what code makes of it (cut to length, its rhyme mended:
        :func:`~musekit_plugins.line_options.line_options`) if that fits line ``index``
        of the poem better."""
        lines = poem_lines(text)
        partner = rhyme_partner(self.form, index)
        options = line_options(
            line,
            syllables=syllable_target(self.form, index),
            rhyme_with=last_word(lines[partner])
            if partner is not None and partner < len(lines)
            else None,
            nouns=nouns_in([*lines, line]),
            taken=[last_word(row) for i, row in enumerate(lines) if i != index],
        )
        count = self.lines if self.form in OPEN_FORMS else None

        def rank(option: str) -> tuple[int, float]:
            report = check(put_line(text, index, option), self.form, lines=count)
            found = report.lines[index].problems if index < len(report.lines) else [""]
            return len(found), -report.score

        return min(options, key=rank)


def _words(line: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", line.lower()))
