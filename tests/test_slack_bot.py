"""The Slack bot end to end: signed requests over HTTP to the real Bolt app, a fake Web API."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from slack_harness import SIGNING_SECRET, Harness, make_host, now, running_bot

from musekit.errors import EngineBusy, EngineUnavailable
from musekit.testing import FakeEngine
from musekit_bots.slack.blocks import MAX_BLOCKS, MAX_SECTION_CHARS
from musekit_bots.slack.testing import slash_command_body

BOT_SECRET = "sk-hidden-7731"


def unescaped(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def placeholder_ts(bot: Harness) -> str:
    return str(bot.slack.called("chat.postMessage")[0].response["ts"])


# A command's life ------------------------------------------------------------------------------


async def test_a_command_is_acked_at_once_then_streamed_and_finished_in_its_thread(
    tmp_path: Path,
) -> None:
    engine = FakeEngine(default="snow on the pier " * 10, token_delay=0.02)  # about 0.8 s
    async with running_bot(tmp_path, engine=engine, update_interval=0.3) as bot:
        started = time.monotonic()
        response = await bot.command("first snow mood=dark")
        acked = time.monotonic() - started
        await bot.settle()

    assert response.status_code == 200
    assert response.text == ""  # an empty ack: the work comes after it
    assert acked < 0.5
    placeholder = bot.slack.called("chat.postMessage")[0]
    assert placeholder.args["channel"] == "C0001"
    assert "thread_ts" not in placeholder.args  # it starts the result's thread
    assert "verse: first snow" in placeholder.args["blocks"][0]["text"]["text"]
    final = bot.slack.called("chat.update")[-1].args
    assert final["ts"] == placeholder_ts(bot)
    assert (final["unfurl_links"], final["unfurl_media"]) == (False, False)
    texts = [b["text"]["text"] for b in final["blocks"] if b["type"] == "section"]
    assert texts == ["*On first snow*", "snow on the pier " * 10]
    labels = [
        e["text"]["text"] for b in final["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert labels == ["🔁 Regenerate", "🎲 Variations"]

    [record] = await bot.store.history(platform="slack")
    assert record.status == "ok"
    assert record.params == {"text": "first snow", "mood": "dark"}
    assert record.conversation == f"slack:T0001:C0001:{placeholder_ts(bot)}"
    assert (record.user_id, record.channel) == ("U0001", "C0001")


async def test_progress_updates_keep_to_the_interval_and_the_final_update_comes_last(
    tmp_path: Path,
) -> None:
    engine = FakeEngine(default="word " * 60, token_delay=0.02)  # about 1.2 s of streaming
    async with running_bot(tmp_path, engine=engine, update_interval=0.3) as bot:
        await bot.command("tide")
        await bot.settle()
    updates = bot.slack.called("chat.update")
    progress, final = updates[:-1], updates[-1]
    assert len(progress) >= 2  # shown while it streamed, not only at the end
    mean_gap = (progress[-1].at - progress[0].at) / (len(progress) - 1)
    assert mean_gap >= 0.27  # the interval, give or take when each update reached Slack
    assert "_" in progress[-1].args["blocks"][0]["text"]["text"]  # a status line, in italics
    assert final.args["blocks"][1]["text"]["text"] == "word " * 60


async def test_the_workspace_update_budget_holds_progress_back_but_never_the_result(
    tmp_path: Path,
) -> None:
    engine = FakeEngine(default="word " * 30, token_delay=0.02)
    async with running_bot(
        tmp_path, engine=engine, update_interval=0.3, updates_per_minute=1
    ) as bot:
        for topic in ("a", "b", "c", "d", "e", "f", "g"):
            await bot.command(topic)
        await bot.settle()
    updates = bot.slack.called("chat.update")
    finals = [u for u in updates if len(u.args["blocks"]) > 1]
    assert len(finals) == 7
    assert len(updates) - len(finals) <= 5  # the budget's burst; then no progress edits


async def test_help_is_answered_privately_and_runs_nothing(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        response = await bot.command("help")
        await bot.settle()
        await bot.command("verse help", command="/muse")
        await bot.settle()
        await bot.command("", command="/muse")
        await bot.settle()
    assert response.status_code == 200
    assert response.text == ""
    own, umbrella, overview = bot.private_notes()
    assert own.startswith("/verse: Write verse.")
    assert "• `mood=` The mood. One of: calm, dark. Default: calm." in own
    assert umbrella.startswith("/muse verse: Write verse.")
    assert "• `ideas`: Ideas." in overview
    assert bot.engine.requests == []
    assert bot.slack.called("chat.postMessage") == []


async def test_a_bad_option_is_named_privately_and_nothing_runs(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        for text, command in (
            ("snow colour=red", "/verse"),
            ("snow lines=99", "/verse"),
            ("colour", "/nope"),
        ):
            assert (await bot.command(text, command=command)).status_code == 200
            await bot.settle()
    unknown, invalid, missing = bot.private_notes()
    assert unknown == "/verse: unknown option 'colour'. Options: mood, lines."
    assert "lines=: Input should be less than or equal to 40" in invalid
    assert missing == "/nope is not a musekit command; /muse lists them."
    assert bot.engine.requests == []
    assert await bot.store.history() == []


async def test_the_umbrella_command_runs_any_command(tmp_path: Path) -> None:
    async with running_bot(tmp_path, command_per_slash=False) as bot:
        await bot.command("verse low tide", command="/muse")
        per_command = await bot.command("low tide")
        await bot.settle()
    [record] = await bot.store.history()
    assert (record.command, record.params) == ("verse", {"text": "low tide"})
    assert per_command.status_code == 200
    assert bot.private_notes() == ["Commands run through /muse here: /muse verse ..."]


# Signatures --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "age"),
    [("not-the-secret", 0), (SIGNING_SECRET, 301), (SIGNING_SECRET, -400)],
    ids=["forged", "stale", "from-the-future"],
)
async def test_forged_and_stale_requests_get_401_and_nothing_happens(
    tmp_path: Path, secret: str, age: int
) -> None:
    async with running_bot(tmp_path) as bot:
        body = slash_command_body("/verse", "snow", response_url=bot.slack.response_url("r"))
        response = await bot.post(body, secret=secret, timestamp=now() - age)
        await bot.settle()
    assert response.status_code == 401
    assert bot.slack.calls == []
    assert bot.engine.requests == []
    assert await bot.store.history() == []


async def test_a_request_without_a_signature_gets_401(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        body = slash_command_body("/verse", "snow", response_url=bot.slack.response_url("r"))
        response = await bot.http.post(
            bot.url + "/slack/events",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 401
    assert bot.engine.requests == []


# Safety of what is posted ------------------------------------------------------------------------


async def test_model_output_pings_no_one_and_forms_no_link(tmp_path: Path) -> None:
    reply = (
        "hey <@U0BOSS> and <!channel> and <!here|here>, see <https://evil.example|this> & @everyone"
    )
    async with running_bot(tmp_path, engine=FakeEngine(default=reply)) as bot:
        await bot.command("mentions")
        await bot.settle()
    final = bot.slack.called("chat.update")[-1].args
    shown = "\n".join(b["text"]["text"] for b in final["blocks"] if "text" in b)
    assert "<" not in shown
    assert ">" not in shown.replace("&gt;", "")
    assert "&lt;@U0BOSS&gt;" in shown
    assert "&lt;https://evil.example|this&gt; &amp;" in shown
    assert "@everyone" not in shown  # the service neutralised it (a zero-width space)
    assert final["parse"] == "none"
    assert final["link_names"] is False


async def test_a_long_result_is_split_within_slack_limits_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.command("everything", command="/tome")
        await bot.settle()
    final = bot.slack.called("chat.update")[-1]
    rest = bot.slack.called("chat.postMessage")[1:]
    assert rest, "the result did not fit one message, so it continues in the thread"
    messages = [final.args, *(c.args for c in rest)]
    for message in messages:
        assert len(message["blocks"]) <= MAX_BLOCKS
        for block in message["blocks"]:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= MAX_SECTION_CHARS
    thread = placeholder_ts(bot)
    assert all(c.args["thread_ts"] == thread for c in rest)
    texts = [b["text"]["text"] for m in messages for b in m["blocks"] if b["type"] == "section"]
    prose = unescaped("".join(t for t in texts if t.startswith("Paragraph")))
    expected = "\n\n".join(f"Paragraph {i}: " + "the tide & <the> moon " * 40 for i in range(60))
    assert prose == expected
    code = "".join(t.removeprefix("```\n").removesuffix("\n```") for t in texts if "```" in t)
    assert code == "x" * 7000
    labels = [b for b in messages[-1]["blocks"] if b["type"] == "actions"]
    assert labels, "the buttons come with the last message"


async def test_attachments_are_uploaded_to_the_result_thread(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.command("Mara", command="/card")
        await bot.settle()
    thread = placeholder_ts(bot)
    [upload] = bot.slack.called("upload")
    assert upload.args["bytes"] == b'{"name": "Mara"}'
    [complete] = bot.slack.called("files.completeUploadExternal")
    assert (complete.args["channel_id"], complete.args["thread_ts"]) == ("C0001", thread)
    assert "card.json" in bot.slack.called("files.getUploadURLExternal")[0].args["filename"]


# Guard rails and failures ----------------------------------------------------------------------


async def test_a_permission_denial_is_told_privately_and_leaves_no_message(tmp_path: Path) -> None:
    rules = {
        "rules": [{"effect": "deny", "channels": ["C0001"], "reason": "verse goes in #poetry"}]
    }
    async with running_bot(tmp_path, host=make_host(rules)) as bot:
        response = await bot.command("snow")
        await bot.settle()
    assert response.status_code == 200
    assert bot.private_notes() == ["You can't run 'verse' in #C0001: verse goes in #poetry."]
    assert bot.slack.called("response_url")[0].args["response_type"] == "ephemeral"
    # The placeholder, if posted, is gone again.
    posted = bot.slack.called("chat.postMessage")
    deleted = bot.slack.called("chat.delete")
    assert len(posted) == len(deleted)
    assert bot.engine.requests == []
    [record] = await bot.store.history()
    assert record.status == "denied"


async def test_a_cooldown_is_told_privately_and_the_command_does_not_run(
    tmp_path: Path,
) -> None:
    async with running_bot(tmp_path, limits={"user_cooldown": 60}) as bot:
        await bot.command("one")
        await bot.settle()
        await bot.command("two")
        await bot.settle()
    statuses = [r.status for r in await bot.store.history()]
    assert statuses == ["denied", "ok"]  # newest first
    assert len(bot.engine.requests) == 1
    assert bot.private_notes() == ["You can run another command in 1 min."]


@pytest.mark.parametrize(
    "error",
    [
        EngineUnavailable("The model server cannot be reached; try again in a minute."),
        EngineBusy("The model is busy; try again shortly."),
    ],
)
async def test_an_engine_down_or_busy_gets_a_friendly_private_message_at_once(
    tmp_path: Path, error: Exception
) -> None:
    engine = FakeEngine()
    engine.fail_next(error)
    async with running_bot(tmp_path, engine=engine) as bot:
        started = time.monotonic()
        await bot.command("snow")
        await bot.slack.wait_for("response_url")
        told = time.monotonic() - started
        await bot.settle()
    assert told < 3.0  # within Slack's ack deadline
    assert bot.private_notes() == [str(error)]
    assert len(bot.slack.called("chat.delete")) == len(bot.slack.called("chat.postMessage"))


async def test_an_unexpected_failure_shows_no_exception_text_or_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = FakeEngine()
    engine.fail_next(RuntimeError(f"token {BOT_SECRET} leaked"))
    caplog.set_level(logging.DEBUG, logger="musekit.bots")
    async with running_bot(tmp_path, engine=engine) as bot:
        await bot.command("snow")
        await bot.settle()
    assert bot.private_notes() == [
        "The 'verse' command (plugin 'commands') failed unexpectedly. The error was logged; "
        "please report it to the plugin's authors."
    ]
    everything = repr([c.args for c in bot.slack.calls])
    assert BOT_SECRET not in everything
    assert "RuntimeError" not in everything
    assert BOT_SECRET not in caplog.text
    assert "xoxb-" not in caplog.text


async def test_a_failed_update_falls_back_to_a_new_message_in_the_thread(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        bot.slack.fail("chat.update", "message_not_found", times=50)
        await bot.command("snow")
        await bot.settle()
    posted = bot.slack.called("chat.postMessage")
    assert len(posted) == 2
    fallback = posted[1].args
    assert fallback["thread_ts"] == placeholder_ts(bot)
    assert fallback["blocks"][1]["text"]["text"] == "a quiet line"
    [deleted] = bot.slack.called("chat.delete")
    assert deleted.args["ts"] == placeholder_ts(bot)  # the stale placeholder goes
    [record] = await bot.store.history()
    assert record.delivered is None  # delivered: nothing kept


async def test_a_result_slack_refuses_is_kept_and_history_brings_it_back(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.command("snow")
        await bot.slack.wait_for("chat.postMessage")
        bot.slack.fail("chat.update", "channel_not_found", times=50)
        bot.slack.fail("chat.postMessage", "channel_not_found", times=50)
        await bot.settle()
        [record] = await bot.store.history()
        assert record.delivered is False
        assert record.delivery is not None
        assert record.delivery.platform == "slack"
        note = bot.private_notes()[-1]
        assert f"`/muse history {record.id}` shows it" in note

        await bot.command("history", command="/muse")
        await bot.settle()
        assert record.id in bot.private_notes()[-1]
        assert "Results that could not be posted" in bot.private_notes()[-1]

        await bot.command(f"history {record.id}", command="/muse")
        await bot.settle()
        shown = bot.slack.called("response_url")[-1].args
        assert shown["blocks"][1]["text"]["text"] == "a quiet line"
        assert (await bot.store.get(record.id)).delivered is True  # type: ignore[union-attr]


async def test_history_shows_only_the_user_s_own_results(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        await bot.command("snow", user_id="U0OTHER")
        await bot.settle()
        [record] = await bot.store.history()
        await bot.command(f"history {record.id}", command="/muse")
        await bot.settle()
    assert bot.private_notes()[-1] == f"There is no result `{record.id}` of yours."
