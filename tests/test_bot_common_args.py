"""Reading a chat command's text into a command spec's parameters, and its chat help."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field

from musekit.spec import CommandSpec, Example, Params
from musekit_bots.common.args import ArgumentError, help_text, parse_args, wants_help


class PoemParams(Params):
    topic: str = Field(min_length=1, max_length=50, description="What it is about.")
    form: Literal["haiku", "sonnet"] = Field("haiku", description="The form.")
    lines: int | None = Field(None, ge=1, le=40, description="How many lines.")
    size: Literal[3, 5] = Field(3, description="A numeric choice.")
    rhymed: bool | None = None
    tags: list[str] = Field(default_factory=list, description="Labels.")


class DiceParams(Params):
    sides: int = Field(6, ge=2)


POEM = CommandSpec(
    name="poem",
    description="Write a poem.",
    params=PoemParams,
    text_param="topic",
    examples=(Example(params={"topic": "first snow", "form": "sonnet", "lines": 14}),),
)
DICE = CommandSpec(name="dice", description="Roll.", params=DiceParams)


def test_positional_words_make_the_text_and_options_take_their_types() -> None:
    params = parse_args(POEM, "first snow form=sonnet lines=14 rhymed=true", invoked_as="/poem")
    assert params == {"topic": "first snow", "form": "sonnet", "lines": 14, "rhymed": True}


def test_a_numeric_choice_and_a_comma_list_are_read_as_the_spec_wants() -> None:
    params = parse_args(POEM, "rain size=5 tags=calm,grey", invoked_as="/poem")
    assert params == {"topic": "rain", "size": 5, "tags": ["calm", "grey"]}


def test_quotes_group_words_and_curly_quotes_work_like_straight_ones() -> None:
    params = parse_args(POEM, "\u201cthe old pier\u201d form=haiku", invoked_as="/poem")
    assert params["topic"] == "the old pier"
    params = parse_args(POEM, "'the old pier' tags=\"a b,c\"", invoked_as="/poem")
    assert params == {"topic": "the old pier", "tags": ["a b", "c"]}


def test_an_apostrophe_inside_a_word_is_not_a_quote() -> None:
    params = parse_args(POEM, "a keeper\u2019s night form=sonnet", invoked_as="/poem")
    assert params == {"topic": "a keeper's night", "form": "sonnet"}


def test_dashes_in_an_option_name_mean_underscores() -> None:
    class P(Params):
        max_lines: int = 4

    spec = CommandSpec(name="x", description="x", params=P)
    assert parse_args(spec, "max-lines=8", invoked_as="/x") == {"max_lines": 8}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("snow colour=red", "unknown option 'colour'. Options: form, lines, size, rhymed, tags"),
        ("snow form=ode", "form=: Input should be 'haiku' or 'sonnet'"),
        ("snow lines=0", "lines=: Input should be greater than or equal to 1"),
        ("snow lines=3 lines=4", "option 'lines' is given twice"),
        ('"snow', 'a quote (") is not closed'),
        ("snow topic=rain", "'topic' is given both as text and as an option"),
        ("form=haiku", "the text (topic): Field required"),
    ],
)
def test_bad_text_gets_an_error_naming_the_option(text: str, expected: str) -> None:
    with pytest.raises(ArgumentError) as caught:
        parse_args(POEM, text, invoked_as="/poem")
    assert expected in caught.value.message
    assert caught.value.message.startswith("/poem")


def test_a_bad_value_is_never_echoed() -> None:
    with pytest.raises(ArgumentError) as caught:
        parse_args(POEM, "snow form=<!channel>", invoked_as="/poem")
    assert "<!channel>" not in caught.value.message


def test_free_text_for_a_command_without_a_text_parameter_is_refused() -> None:
    with pytest.raises(ArgumentError, match=r"takes no free text.*sides"):
        parse_args(DICE, "twenty", invoked_as="/muse dice")
    assert parse_args(DICE, "sides=20", invoked_as="/muse dice") == {"sides": 20}


@pytest.mark.parametrize("text", ["help", " HELP ", "--help", "-h", "?"])
def test_help_words_ask_for_help(text: str) -> None:
    assert wants_help(text)


def test_help_is_not_taken_for_a_topic_containing_it() -> None:
    assert not wants_help("help me sleep")


def test_help_lists_every_option_with_choices_defaults_and_examples() -> None:
    text = help_text(POEM, invoked_as="/poem")
    assert text.splitlines()[0] == "/poem: Write a poem."
    assert "`/poem <topic> [option=value ...]`" in text
    assert "• `form=` The form. One of: haiku, sonnet. Default: haiku." in text
    assert "• `lines=` How many lines." in text
    assert "`topic=`" not in text  # the free text is not an option
    assert "• `/poem first snow form=sonnet lines=14`" in text


def test_every_help_example_parses_back_to_its_parameters() -> None:
    line = help_text(POEM, invoked_as="/poem").split("• `/poem ", 1)[1].split("`")[0]
    assert parse_args(POEM, line, invoked_as="/poem") == POEM.examples[0].params
