"""Buttons, thread replies, event retries and modals, as Slack sends them, to the real Bolt app."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

from slack_harness import Harness, running_bot

from musekit_bots.slack.app import build_app
from musekit_bots.slack.serve import socket_mode_handler
from musekit_bots.slack.testing import (
    block_action_body,
    message_event_body,
    slash_command_body,
)


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A message's buttons by label, each with its block id."""
    found = {}
    for block in message["blocks"]:
        if block["type"] == "actions":
            for element in block["elements"]:
                found[element["text"]["text"]] = {**element, "block_id": block["block_id"]}
    return found


async def press(bot: Harness, button: dict[str, Any], *, user_id: str = "U0001") -> None:
    first = bot.slack.called("chat.postMessage")[0]
    body = block_action_body(
        button["value"],
        action_id=button["action_id"],
        block_id=button["block_id"],
        message_ts=str(first.response["ts"]),
        response_url=bot.slack.response_url("button"),
        user_id=user_id,
    )
    response = await bot.post(body)
    assert response.status_code == 200
    await bot.settle()


async def finished(bot: Harness, text: str, command: str = "/verse") -> dict[str, Any]:
    """Run a command and return its final message."""
    await bot.command(text, command=command)
    await bot.settle()
    return dict(bot.slack.called("chat.update")[-1].args)


async def test_regenerate_runs_the_same_command_again_in_the_same_thread(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        result = await finished(bot, "low tide mood=dark")
        thread = str(bot.slack.called("chat.postMessage")[0].response["ts"])
        await press(bot, buttons(result)["🔁 Regenerate"])
        second, first = await bot.store.history()
    assert (second.command, second.params) == ("verse", {"text": "low tide", "mood": "dark"})
    assert second.conversation == first.conversation
    assert second.id != first.id
    placeholder = bot.slack.called("chat.postMessage")[1]
    assert placeholder.args["thread_ts"] == thread
    assert len(bot.engine.requests) == 2


async def test_variations_are_shown_from_the_result_without_running_anything(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        result = await finished(bot, "low tide")
        await press(bot, buttons(result)["🎲 Variations"])
    posted = bot.slack.called("chat.postMessage")[-1].args
    assert posted["blocks"][0]["text"]["text"] == "*On low tide (variation 1 of 1)*"
    assert posted["blocks"][1]["text"]["text"] == "another take on low tide"
    assert "Next variation" not in buttons(posted)
    assert len(bot.engine.requests) == 1  # the first run only


async def test_votes_on_ideas_are_recorded_and_the_ranking_shown_privately(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        result = await finished(bot, "count=3", command="/ideas")
        found = buttons(result)
        assert {"👍 1", "👎 1", "👍 2", "👎 2", "👍 3", "👎 3"} <= set(found)
        await press(bot, found["👍 2"])
        await press(bot, found["👍 2"], user_id="U0002")
        await press(bot, found["👎 1"])
        [record] = await bot.store.history()
        ideas = await bot.store.ideas(record.id)
    assert [(i.text, i.up, i.down) for i in ideas] == [
        ("idea number 1", 0, 1),
        ("idea number 2", 2, 0),
        ("idea number 3", 0, 0),
    ]
    note = bot.private_notes()[-1]
    assert note.splitlines()[0] == "Your 👎 is recorded."
    assert note.splitlines()[2] == "1. idea number 2 (👍 2 · 👎 0)"


async def test_a_forged_button_value_does_nothing(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await finished(bot, "low tide")
        forged = {"value": "mk:delete:everything", "action_id": "musekit_x", "block_id": "b"}
        await press(bot, forged)
    assert len(bot.engine.requests) == 1
    assert bot.private_notes() == []


async def test_a_reply_in_the_result_thread_refines_it_with_the_thread_history(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        await finished(bot, "low tide mood=dark")
        thread = str(bot.slack.called("chat.postMessage")[0].response["ts"])
        body = message_event_body(
            "make it darker", event_id="Ev0001", thread_ts=thread, ts="1700000099.000100"
        )
        response = await bot.post(body, content_type="application/json")
        await bot.settle()
        refined, original = await bot.store.history()
    assert response.status_code == 200
    assert refined.params == {"text": "make it darker", "mood": "dark"}
    assert refined.conversation == original.conversation
    asked, answered, reply = bot.engine.requests[-1].messages
    assert (asked.role, sorted(asked.content.splitlines())) == (
        "user",
        ["mood: dark", "text: low tide"],
    )
    assert (answered.role, answered.content) == ("assistant", "a quiet line")
    assert (reply.role, reply.content) == ("user", "make it darker")
    placeholder = bot.slack.called("chat.postMessage")[1].args
    assert placeholder["thread_ts"] == thread


async def test_replies_elsewhere_and_the_bot_s_own_messages_are_ignored(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await finished(bot, "low tide")
        thread = str(bot.slack.called("chat.postMessage")[0].response["ts"])
        other = message_event_body(
            "hello", event_id="Ev0002", thread_ts="1600000000.000001", ts="1700000099.1"
        )
        top_level = message_event_body("hello", event_id="Ev0003", thread_ts=None, ts="17.2")
        own = message_event_body(
            "a quiet line", event_id="Ev0004", thread_ts=thread, ts="17.3", user_id="UBOT"
        )
        for body in (other, top_level, own):
            assert (await bot.post(body, content_type="application/json")).status_code == 200
        await bot.settle()
    assert len(await bot.store.history()) == 1
    assert len(bot.engine.requests) == 1


async def test_an_events_api_retry_is_not_run_twice(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await finished(bot, "low tide")
        thread = str(bot.slack.called("chat.postMessage")[0].response["ts"])
        body = message_event_body(
            "make it darker", event_id="Ev0005", thread_ts=thread, ts="1700000099.000200"
        )
        first = await bot.post(body, content_type="application/json")
        retry = await bot.post(
            body,
            content_type="application/json",
            extra={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
        )
        await bot.settle()
    assert (first.status_code, retry.status_code) == (200, 200)
    assert len(await bot.store.history()) == 2  # the original and one refinement
    assert len(bot.engine.requests) == 2


async def test_a_command_without_its_text_opens_a_modal_generated_from_its_spec(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        response = await bot.command("")
        await bot.settle()
        [opened] = bot.slack.called("views.open")
        view = opened.args["view"]
        blocks = {b["block_id"]: b for b in view["blocks"]}
        assert set(blocks) == {
            "musekit_param_text",
            "musekit_param_mood",
            "musekit_param_lines",
        }
        assert blocks["musekit_param_text"]["element"]["multiline"] is True
        assert blocks["musekit_param_text"]["optional"] is False
        mood = blocks["musekit_param_mood"]["element"]
        assert [o["value"] for o in mood["options"]] == ["calm", "dark"]
        assert blocks["musekit_param_lines"]["element"]["type"] == "number_input"

        bad = await bot.post(submission(view, text="snow", mood="dark", lines="99"))
        assert bad.json() == {
            "response_action": "errors",
            "errors": {"musekit_param_lines": "Input should be less than or equal to 40"},
        }
        good = await bot.post(submission(view, text="snow", mood="dark", lines="6"))
        await bot.settle()
    assert response.status_code == 200
    assert good.status_code == 200
    assert good.text == ""
    [record] = await bot.store.history()
    assert record.params == {"text": "snow", "mood": "dark", "lines": 6}
    assert record.channel == "C0001"


def submission(view: dict[str, Any], **values: str) -> str:
    """The form body of a ``view_submission`` of ``view`` with these values."""
    state: dict[str, Any] = {}
    for name, value in values.items():
        block = f"musekit_param_{name}"
        element = next(b["element"] for b in view["blocks"] if b["block_id"] == block)
        if element["type"] == "static_select":
            chosen = {"text": {"type": "plain_text", "text": value}, "value": value}
            state[block] = {"value": {"type": "static_select", "selected_option": chosen}}
        else:
            state[block] = {"value": {"type": element["type"], "value": value}}
    payload = {
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "fake"},
        "user": {"id": "U0001", "username": "ada", "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "deprecated-verification-token",
        "trigger_id": "12345.98765.abcd2358fdea",
        "view": {**view, "id": "V0001", "state": {"values": state}, "hash": "1.abc"},
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


async def test_in_socket_mode_a_slash_command_is_acked_on_the_socket_and_run(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, app_token="xapp-1-fake-app-token") as bot:
        handler = socket_mode_handler(build_app(bot.bot), bot.bot.settings)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        try:
            payload = dict(
                urllib.parse.parse_qsl(
                    slash_command_body(
                        "/verse", "low tide", response_url=bot.slack.response_url("s")
                    )
                )
            )
            envelope = await bot.slack.send_envelope("slash_commands", payload)
            [ack] = await bot.slack.wait_for("socket_ack")
            await bot.slack.wait_for("chat.update")
            await bot.settle()
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]
    assert ack.args["envelope_id"] == envelope
    assert len(bot.slack.called("apps.connections.open")) == 1  # with the app token
    [record] = await bot.store.history()
    assert (record.command, record.params, record.status) == ("verse", {"text": "low tide"}, "ok")
    final = bot.slack.called("chat.update")[-1].args
    assert final["blocks"][1]["text"]["text"] == "a quiet line"


async def test_a_shortcut_opens_the_modal_with_a_conversation_picker(tmp_path: Path) -> None:
    payload = {
        "type": "shortcut",
        "token": "deprecated-verification-token",
        "action_ts": "1700000000.1",
        "team": {"id": "T0001", "domain": "fake"},
        "user": {"id": "U0001", "username": "ada", "team_id": "T0001"},
        "callback_id": "musekit_verse",
        "trigger_id": "12345.98765.abcd2358fdea",
    }
    async with running_bot(tmp_path) as bot:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        assert (await bot.post(body)).status_code == 200
        await bot.settle()
        [opened] = bot.slack.called("views.open")
        view = opened.args["view"]
        picker = view["blocks"][-1]
        assert picker["block_id"] == "musekit_where"
        assert picker["element"]["type"] == "conversations_select"
        form = json.loads(urllib.parse.parse_qs(submission(view, text="snow"))["payload"][0])
        form["view"]["state"]["values"]["musekit_where"] = {
            "value": {"type": "conversations_select", "selected_conversation": "C0PICKED"}
        }
        response = await bot.post(urllib.parse.urlencode({"payload": json.dumps(form)}))
        await bot.settle()
    assert response.status_code == 200
    [record] = await bot.store.history()
    assert (record.channel, record.params) == ("C0PICKED", {"text": "snow"})
    assert bot.slack.called("chat.postMessage")[0].args["channel"] == "C0PICKED"
