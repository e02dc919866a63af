"""`musekit history`: list, show, export, forget and prune, on a SQLite store in a temp folder."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Invoke, Script
from pg_server import free_port

from musekit import Invocation, Invoker, Result, ResultField, Section
from musekit.store import InvocationRecord, open_store

NOW = datetime.now(UTC).replace(microsecond=0)
POEM = Result(
    title="First snow",
    sections=[Section(body="white on the roofs,\n  white on the lanes", style="verse")],
    fields=[ResultField(name="form", value="couplet")],
)


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The store the CLI uses (through MUSEKIT_STORE__URL), with three invocations in it."""
    url = f"sqlite:///{tmp_path / 'team.db'}"
    monkeypatch.setenv("MUSEKIT_STORE__URL", url)
    return url


def fill(url: str) -> dict[str, str]:
    """Ada's poem (10 days ago, with ideas voted on by Bram), Bram's failed lyrics, Ada's CLI
    write still running; returns their ids."""

    async def run() -> dict[str, str]:
        async with await open_store(url) as store:
            ada = Invoker(user_id="U-ADA", display_name="Ada Quill", roles=("poet",))
            bram = Invoker(user_id="U-BRAM", display_name="Bram")
            poem = Invocation(
                command="poem", params={"topic": "snow"}, invoker=ada, channel="C-POEMS",
                platform="slack", conversation="T-1",
            )  # fmt: skip
            lyrics = Invocation(
                command="lyrics", invoker=bram, channel="C-SONGS", platform="discord"
            )
            write = Invocation(command="write", params={"prompt": "fog"}, invoker=ada)
            await store.record_start(poem, started_at=NOW - timedelta(days=10))
            await store.record_finish(
                poem.id, status="ok", result=POEM, prompt_tokens=120, completion_tokens=48,
                timings={"queue": 0.25, "first_token": 0.5, "total": 2.75},
                finished_at=NOW - timedelta(days=10) + timedelta(seconds=3),
            )  # fmt: skip
            (idea,) = await store.add_ideas(poem.id, ["a snowman's diary"])
            await store.vote(idea, "U-BRAM", 1)
            await store.record_start(lyrics, started_at=NOW - timedelta(hours=1))
            await store.record_finish(
                lyrics.id, status="error", error="The language model is busy; try again.",
                finished_at=NOW - timedelta(hours=1),
            )  # fmt: skip
            await store.record_start(write, started_at=NOW - timedelta(minutes=1))
            return {"poem": poem.id, "lyrics": lyrics.id, "write": write.id}

    return asyncio.run(run())


def stored(url: str) -> list[InvocationRecord]:
    async def run() -> list[InvocationRecord]:
        async with await open_store(url) as store:
            return await store.history(limit=100)

    return asyncio.run(run())


def test_list_shows_a_table_newest_first(cli: Invoke, url: str) -> None:
    made = fill(url)

    done = cli("history", "list")

    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0].split() == [
        "id", "started", "(UTC)", "command", "status", "tokens", "user", "where", "result"
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == [made["write"], made["lyrics"], made["poem"]]
    poem_row = lines[3]
    assert (NOW - timedelta(days=10)).strftime("%Y-%m-%d %H:%M") in poem_row
    for text in ("poem", "ok", "168", "Ada Quill", "slack #C-POEMS", "First snow"):
        assert text in poem_row
    assert "The language model is busy; try again." in lines[2]
    assert "running" in lines[1]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["--user", "U-ADA"], ["write", "poem"]),
        (["--channel", "C-SONGS"], ["lyrics"]),
        (["--command", "poem"], ["poem"]),
        (["--platform", "cli"], ["write"]),
        (["--user", "U-ADA", "--platform", "slack"], ["poem"]),
        (["--limit", "2"], ["write", "lyrics"]),
    ],
)
def test_list_filters(cli: Invoke, url: str, filters: list[str], expected: list[str]) -> None:
    made = fill(url)

    done = cli("history", "list", "--json", *filters)

    assert done.exit_code == 0, done.output
    assert [record["id"] for record in json.loads(done.output)] == [made[n] for n in expected]


def test_list_json_is_the_stored_records(cli: Invoke, url: str) -> None:
    fill(url)
    done = cli("history", "list", "--json")
    assert json.loads(done.output) == [r.model_dump(mode="json") for r in stored(url)]


def test_no_match_says_so(cli: Invoke, url: str) -> None:
    fill(url)
    done = cli("history", "list", "--user", "U-NOBODY")
    assert (done.exit_code, done.output) == (0, "No invocations match.\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "0"], "Invalid value for '--limit': 0 is not in the range 1<=x<=1000."),
        (["--user", " "], "Invalid value for '--user': must not be empty"),
        (["--channel", ""], "Invalid value for '--channel': must not be empty"),
    ],
)
def test_bad_filters_are_usage_errors(cli: Invoke, url: str, args: list[str], message: str) -> None:
    done = cli("history", "list", *args)
    assert done.exit_code == 2
    assert message in done.output


def test_show_renders_who_where_status_tokens_timings_and_the_result(cli: Invoke, url: str) -> None:
    made = fill(url)

    done = cli("history", "show", made["poem"])

    assert done.exit_code == 0, done.output
    details = {
        line.split("  ", 1)[0]: line.split("  ", 1)[1].strip()
        for line in done.output.splitlines()
        if line and line[0].isalpha() and "  " in line
    }
    started = NOW - timedelta(days=10)
    assert details == {
        "id": made["poem"],
        "command": "poem",
        "status": "ok",
        "who": "Ada Quill (U-ADA); roles: poet",
        "where": "slack #C-POEMS",
        "conversation": "T-1",
        "started": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "finished": (started + timedelta(seconds=3)).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "tokens": "120 prompt + 48 completion",
        "timings": "queue 0.25s, first_token 0.50s, total 2.75s",
        "params": '{"topic": "snow"}',
    }
    assert "─ First snow ─" in done.output  # the result, as `musekit run` shows results
    assert "│ white on the roofs," in done.output
    assert "│   white on the lanes" in done.output
    assert "form  couplet" in done.output


def test_show_a_failure_gives_its_error(cli: Invoke, url: str) -> None:
    made = fill(url)
    done = cli("history", "show", made["lyrics"])
    assert done.exit_code == 0
    assert "error: The language model is busy; try again." in done.output
    assert "who       Bram (U-BRAM)" in [line.rstrip() for line in done.output.splitlines()]


def test_show_json_is_the_stored_record(cli: Invoke, url: str) -> None:
    made = fill(url)
    done = cli("history", "show", made["poem"], "--json")
    (poem,) = [r for r in stored(url) if r.id == made["poem"]]
    assert json.loads(done.output) == poem.model_dump(mode="json")


def test_show_an_unknown_id_is_a_clear_error(cli: Invoke, url: str) -> None:
    fill(url)
    done = cli("history", "show", "0badc0ffee00")
    assert done.exit_code == 2
    assert done.output == (
        "Error: No invocation '0badc0ffee00' in the store; `musekit history list` shows the ids.\n"
    )
    done = cli("history", "show", "0badc0ffee00", "--json")
    assert json.loads(done.output)["error"]["type"] == "NotFound"


def test_export_prints_everything_of_one_user(cli: Invoke, url: str) -> None:
    made = fill(url)

    done = cli("history", "export", "--user", "U-ADA")

    assert done.exit_code == 0, done.output
    export = json.loads(done.output)
    assert export["user_id"] == "U-ADA"
    assert [i["id"] for i in export["invocations"]] == [made["poem"], made["write"]]
    assert [(i["text"], i["up"]) for i in export["ideas"]] == [("a snowman's diary", 1)]
    assert export["votes"] == []
    assert "U-BRAM" not in done.output


def test_export_to_a_file(cli: Invoke, url: str, tmp_path: Path) -> None:
    fill(url)
    target = tmp_path / "bram.json"

    done = cli("history", "export", "--user", "U-BRAM", "--output", str(target))

    assert done.exit_code == 0
    assert done.output == f"Wrote 1 invocation, 0 ideas, 1 vote of user 'U-BRAM' to {target}.\n"
    export = json.loads(target.read_text("utf-8"))
    assert [i["command"] for i in export["invocations"]] == ["lyrics"]
    assert [v["value"] for v in export["votes"]] == [1]


def test_forget_asks_first_and_a_no_removes_nothing(cli: Invoke, url: str) -> None:
    fill(url)

    done = cli("history", "forget", "--user", "U-ADA", input="n\n")

    assert done.exit_code == 1
    assert "Delete 2 invocations, 1 idea, 0 votes of user 'U-ADA' from sqlite+aiosqlite:///" in (
        done.output
    )
    assert done.output.endswith("[y/N]: n\nNothing removed.\n")
    assert len(stored(url)) == 3


def test_forget_without_an_answer_removes_nothing(cli: Invoke, url: str) -> None:
    fill(url)
    done = cli("history", "forget", "--user", "U-ADA", input="")
    assert done.exit_code == 1
    assert done.output.endswith("Nothing removed.\n")
    assert len(stored(url)) == 3


@pytest.mark.parametrize("how", [["--yes"], []])
def test_forget_removes_that_user_only_and_says_what(cli: Invoke, url: str, how: list[str]) -> None:
    made = fill(url)

    done = cli("history", "forget", "--user", "U-ADA", *how, input=None if how else "y\n")

    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[-1] == (
        "Forgot user 'U-ADA': removed 2 invocations, 1 idea, 0 votes (4 rows in all, with the "
        "votes others cast on their ideas)."
    )
    assert [r.id for r in stored(url)] == [made["lyrics"]]
    again = cli("history", "forget", "--user", "U-ADA", "--yes")
    assert again.output == "Nothing is kept about user 'U-ADA'.\n"


def test_prune_without_retention_removes_nothing(cli: Invoke, url: str) -> None:
    fill(url)
    done = cli("history", "prune")
    assert done.exit_code == 0
    assert "Retention is off (store.retention_days is not set)" in done.output
    assert len(stored(url)) == 3


def test_prune_applies_the_retention_setting_or_days(
    cli: Invoke, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = fill(url)
    monkeypatch.setenv("MUSEKIT_STORE__RETENTION_DAYS", "30")
    assert cli("history", "prune").output.startswith("Removed 0 rows")

    monkeypatch.setenv("MUSEKIT_STORE__RETENTION_DAYS", "7")
    done = cli("history", "prune")

    assert done.exit_code == 0
    assert done.output.startswith("Removed 3 rows: invocations started before ")  # poem, idea, vote
    assert [r.id for r in stored(url)] == [made["write"], made["lyrics"]]
    done = cli("history", "prune", "--days", "1")
    assert done.output.startswith("Removed 0 rows")
    assert cli("history", "prune", "--days", "0").exit_code == 2


def test_an_unreachable_database_is_a_clear_error_without_the_password(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("MUSEKIT_STORE__URL", f"postgresql://bob:hunter2@127.0.0.1:{port}/muse")

    done = cli("history", "list")

    assert done.exit_code == 1
    assert done.output == (
        f"Error: The store at postgresql+asyncpg://bob:***@127.0.0.1:{port}/muse failed: no "
        "database server answered there.\n"
    )
    done = cli("history", "list", "--json")
    assert json.loads(done.output)["error"]["type"] == "StoreUnavailable"
    assert "hunter2" not in done.output


def test_the_console_script_uses_the_default_store_in_the_user_data_folder(
    musekit_script: Script, tmp_path: Path
) -> None:
    done = musekit_script("history", "list", "--json")

    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")
    assert (tmp_path / "xdg-data" / "musekit" / "musekit.db").is_file()
