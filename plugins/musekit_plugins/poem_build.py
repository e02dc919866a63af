"""How the ``poem`` command writes a long form a line at a time.

A sonnet, a villanelle or a limerick asks for more at once (syllables, meter, rhymes
across lines) than a small model keeps track of in one draft. Written line by line,
each line is one request of a few short samples, with the lines so far and what this
line needs spelled out ("Write line 3, in 10 or 11 syllables, ending with a word that
rhymes with 'day' (such as 'way' or 'bay')"); code keeps the sample that fits best,
judged by :func:`musekit.craft.check` on the poem so far, and asks again while none
fits. A refrain is copied from the line it repeats; a line that copies an earlier line
or a line of the worked example is not kept. The rhyme suggestions are words of the
worked examples and of the lines written so far: plain words a poem uses.

The prompts are the line repair's (:mod:`musekit_plugins.poem_repair`): a fixed prefix
per form, the conversation so far, then the request and the lines in the last message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from musekit import ChatRequest, Message
from musekit.craft import check, get_form
from musekit_plugins.piecewise import Fit
from musekit_plugins.poem_forms import FORM_PROMPTS, OPEN_FORMS, FormName
from musekit_plugins.poem_repair import (
    LINE_TOKENS,
    Span,
    line_example,
    line_request,
    line_system_prompt,
    rhyme_partner,
    rhyming_words,
)
from musekit_plugins.poem_text import answer_lines, last_word, poem_lines

#: Forms written a line at a time when the pipeline has more than one candidate: those a
#: small model does not write whole (rhymes across many lines, meter, refrains).
LINE_BY_LINE: frozenset[FormName] = frozenset(
    {"limerick", "shakespearean-sonnet", "petrarchan-sonnet", "villanelle", "couplets"}
)

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _plain(line: str) -> str:
    return " ".join(_WORD.findall(line.lower()))


@cache
def example_words() -> tuple[str, ...]:
    """Every word of the worked examples, each once, in order: the rhyme suggestions'
    first source."""
    found: dict[str, None] = {}
    for prompt in FORM_PROMPTS.values():
        found.update(dict.fromkeys(_WORD.findall(prompt.poem.lower())))
    return tuple(found)


@cache
def _example_lines() -> frozenset[str]:
    return frozenset(_plain(line) for p in FORM_PROMPTS.values() for line in poem_lines(p.poem))


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

    def ask(self, done: Sequence[str], index: int) -> ChatRequest:
        """The request for line ``index``: the lines so far and what the line needs."""
        vocabulary = (*example_words(), *(w for line in done for w in _WORD.findall(line.lower())))
        example, answer = line_example(self.form)
        ask = line_request(self.request, self.form, done, Span(index), (), vocabulary)
        messages = (
            Message(role="system", content=line_system_prompt(self.form)),
            Message(role="user", content=example),
            Message(role="assistant", content=answer),
            *self.history,
            Message(role="user", content=ask),
        )
        sampling = self.drafting.sampling.model_copy(
            update={"max_tokens": LINE_TOKENS, "stop": ("\n",)}
        )
        return self.drafting.model_copy(update={"messages": messages, "sampling": sampling})

    def parse(self, done: Sequence[str], index: int, answer: str) -> str | None:
        """The answer's first line, unless it copies an earlier line or the example."""
        found = answer_lines(answer)
        if not found:
            return None
        line = found[0]
        plain = _plain(line)
        if not plain or plain in _example_lines() or plain in {_plain(d) for d in done}:
            return None
        return line

    def fit(self, done: Sequence[str], index: int, line: str) -> Fit:
        """The line's problems in the poem so far; a line others must rhyme with fits
        better with an end word the suggestions can rhyme."""
        report = check(self.join([*done, line]), self.form, lines=self._count())
        problems = len(report.lines[index].problems) if index < len(report.lines) else 1
        score = report.score
        if self._starts_rhyme(index) and not rhyming_words(last_word(line), example_words()):
            score -= 0.1
        return Fit(problems, score)

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

    def _starts_rhyme(self, index: int) -> bool:
        return any(rhyme_partner(self.form, later) == index for later in range(self.parts))
