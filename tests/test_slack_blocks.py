"""Results as Block Kit: escaping, Slack's limits, buttons."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from musekit.result import Result, ResultField, Section, Variation
from musekit_bots.common.actions import Regenerate, ShowVariation, Vote, decode
from musekit_bots.common.cadence import Progress
from musekit_bots.slack.blocks import (
    MAX_BLOCKS,
    MAX_FIELD_CHARS,
    MAX_SECTION_CHARS,
    escape,
    progress_message,
    result_messages,
    variation_messages,
)


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def section_texts(result: Result) -> list[str]:
    return [
        b["text"]["text"]
        for m in result_messages(result)
        for b in m.blocks
        if b["type"] == "section" and "text" in b
    ]


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="ab &<>\n", max_size=12_000))
def test_any_text_is_split_within_the_limits_and_reads_back_whole(body: str) -> None:
    result = Result(title="t", sections=[Section(body=body)], invocation_id="abc")
    messages = result_messages(result)
    for message in messages:
        assert len(message.blocks) <= MAX_BLOCKS
        for block in message.blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= MAX_SECTION_CHARS
                assert "<" not in block["text"]["text"]
    pieces = section_texts(result)[1:]
    if body.strip():
        assert unescape("".join(pieces)) == body


def test_more_than_fifty_blocks_continue_in_further_messages() -> None:
    sections = [Section(heading=f"H{i}", body=f"body {i}") for i in range(40)]
    messages = result_messages(Result(title="many", sections=sections, invocation_id="abc"))
    assert [len(m.blocks) for m in messages] == [50, 32]
    assert messages[-1].blocks[-1]["type"] == "actions"  # buttons on the last message
    assert all(m.text == "many" for m in messages)


def test_escaping_leaves_no_markup_for_mentions_or_links() -> None:
    assert escape("<@U1> <!here> <http://x|y> & co") == (
        "&lt;@U1&gt; &lt;!here&gt; &lt;http://x|y&gt; &amp; co"
    )


def test_verse_keeps_its_line_breaks_code_is_fenced_and_quotes_are_quoted() -> None:
    result = Result(
        title="styles",
        sections=[
            Section(body="one\ntwo", style="verse"),
            Section(body="a < b", style="code"),
            Section(body="said\nhe", style="quote"),
        ],
    )
    assert section_texts(result)[1:] == ["one\ntwo", "```\na &lt; b\n```", "> said\n> he"]


def test_fields_and_warnings_are_shown_and_a_long_field_is_cut_to_its_limit() -> None:
    result = Result(
        title="t",
        fields=[ResultField(name="form", value="haiku"), ResultField(name="big", value="x" * 5000)],
        warnings=["line 2 has 8 syllables"],
    )
    [message] = result_messages(result, controls=False)
    fields = next(b for b in message.blocks if "fields" in b)["fields"]
    assert fields[0]["text"] == "*form*\nhaiku"
    assert len(fields[1]["text"]) == MAX_FIELD_CHARS
    context = next(b for b in message.blocks if b["type"] == "context")
    assert context["elements"][0]["text"] == "⚠️ line 2 has 8 syllables"


def test_buttons_carry_their_action_and_vote_buttons_come_only_for_stored_ideas() -> None:
    result = Result(
        title="ideas",
        invocation_id="inv1",
        variations=[Variation(sections=[Section(body="other")])],
        data={"ideas": [{"id": 7, "text": "a"}, {"id": None, "text": "unsaved"}, "junk"]},
    )
    [message] = result_messages(result)
    actions = [b for b in message.blocks if b["type"] == "actions"]
    values = [decode(e["value"]) for b in actions for e in b["elements"]]
    assert values == [Vote(7, 1), Vote(7, -1), Regenerate("inv1"), ShowVariation("inv1", 0)]
    assert actions[0]["block_id"] == "musekit_ideas_inv1_0"
    action_ids = [e["action_id"] for b in actions for e in b["elements"]]
    assert len(set(action_ids)) == len(action_ids)  # unique within the message, as Slack needs


def test_a_variation_offers_the_next_one_until_the_last() -> None:
    result = Result(
        title="poem",
        invocation_id="inv1",
        variations=[Variation(sections=[Section(body=f"take {i}")]) for i in range(2)],
    )
    [first] = variation_messages(result, 0)
    assert first.blocks[0]["text"]["text"] == "*poem (variation 1 of 2)*"
    assert decode(first.blocks[-1]["elements"][0]["value"]) == ShowVariation("inv1", 1)
    [last] = variation_messages(result, 1)
    assert last.blocks[-1]["type"] == "section"


def test_progress_shows_the_end_of_a_long_draft_within_one_section() -> None:
    draft = "&" * 5000 + "the end"
    message = progress_message("poem", Progress(status="Drafting", text=draft))
    text = message.blocks[0]["text"]["text"]
    assert len(text) <= MAX_SECTION_CHARS
    assert text.startswith("*poem*\n_Drafting_\n…&amp;")
    assert text.endswith("&amp;the end")
