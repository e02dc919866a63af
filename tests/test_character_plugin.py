"""The character command: schema-constrained replies, repair, stock names, card export,
evolving a card (parameter, PNG, conversation), the CLI, and one run on the real model."""

from __future__ import annotations

import base64
import importlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke, Script
from PIL import Image, PngImagePlugin

from musekit import InvalidParameters, Invocation, Runner, Turn
from musekit.testing import FakeEngine, check_conformance, make_kit
from musekit.testing.kit import run_sync
from musekit_plugins import character
from musekit_plugins.cards import read_card
from musekit_plugins.cards.png import chunks
from musekit_plugins.character_names import fresh_name, is_stock
from musekit_plugins.character_sheet import DEFAULT_FIELDS, SHEET_FIELDS, sheet_schema, sheet_text

FIXTURES = Path(__file__).parent / "fixtures" / "cards"
CONCEPT = "a night-shift baker who can taste lies"

GOOD: dict[str, Any] = {
    "name": "Morag Dunlevy",
    "description": "A night-shift baker with burn scars on both wrists and a radio tuned to jazz.",
    "personality": "Dry, loyal, impossible to flatter.",
    "scenario": "{{user}} comes in at 4am for bread and stays for the gossip.",
    "first_mes": "*Morag wipes flour off the counter.* We're not open. What do you want?",
    "tags": ["baker", "glasgow", "slice of life"],
}


def reply(**changes: Any) -> str:
    sheet = GOOD | changes
    return json.dumps({k: v for k, v in sheet.items() if v is not None})


def run(engine: FakeEngine, text: str = CONCEPT, **params: Any) -> Any:
    return make_kit(character, engine=engine).invoke("character", text, **params)


def test_a_valid_reply_becomes_a_card_in_three_files() -> None:
    engine = FakeEngine([reply()])
    done = run(engine, setting="1980s Glasgow", tone="wry")
    assert len(done.requests) == 1
    assert done.request.json_schema == sheet_schema(DEFAULT_FIELDS)
    asked = done.request.messages[-1].content
    assert asked.startswith(f"Concept: {CONCEPT}\nSetting: 1980s Glasgow\nTone: wry\nFields: name,")
    result = done.result
    assert result.title == "Morag Dunlevy"
    assert result.text == sheet_text(GOOD)
    assert [a.filename for a in result.attachments] == [
        "morag-dunlevy.png",
        "morag-dunlevy.card.json",
        "morag-dunlevy.v2.json",
    ]
    png, v3, v2 = (read_card(a.data) for a in result.attachments)
    assert png.to_v3() == v3.to_v3() == result.data["card"]
    assert v2.read_as == "v2"
    for key, value in GOOD.items():
        assert getattr(png.data, key) == value
    assert png.data.creation_date is not None
    assert result.data["character"] == GOOD
    assert result.data["schema_report"] == {
        "passed": True,
        "model_passed": True,
        "repair_rounds": 0,
        "fixed_by_rule": [],
        "problems": [],
    }
    assert {"name": "schema", "value": "valid on the first reply"} in [
        f.model_dump() for f in result.fields
    ]
    assert result.warnings == []


def test_an_invalid_reply_is_sent_back_with_its_problems_and_the_repair_is_used() -> None:
    engine = FakeEngine([reply(description="Bakes.", tags=None), reply()])
    done = run(engine)
    assert len(done.requests) == 2
    repair = done.requests[1]
    assert repair.json_schema == done.request.json_schema
    assert repair.messages[:-1] == done.request.messages[:-1]  # the same fixed prefix
    assert repair.messages[-1].content == (
        f"{done.request.messages[-1].content}\n\n"
        f"This reply has problems:\n{reply(description='Bakes.', tags=None)}\n\n"
        "Problems:\n"
        "- description: String should have at least 20 characters\n"
        "- tags: Field required\n"
        "Write the whole JSON object again with them fixed."
    )
    assert done.result.data["character"] == GOOD
    assert done.result.data["schema_report"]["repair_rounds"] == 1
    assert done.result.data["schema_report"]["model_passed"] is True
    assert done.result.warnings == []


def test_a_stock_name_is_asked_about_then_replaced_everywhere() -> None:
    stock = reply(
        name="Elara Nightshade",
        description="Elara Nightshade bakes bread at night and tastes the lies in it.",
    )
    engine = FakeEngine(default=stock)
    done = run(engine)
    # The draft and one repair; the same reply again is not sent back a second time.
    assert len(done.requests) == 2
    assert "- name: 'Elara Nightshade' uses a stock fantasy name (Elara, Nightshade)" in (
        done.requests[1].messages[-1].content
    )
    fresh = fresh_name(CONCEPT)
    sheet = done.result.data["character"]
    assert sheet["name"] == fresh
    assert not is_stock(sheet["name"])
    assert sheet["description"] == f"{fresh} bakes bread at night and tastes the lies in it."
    assert done.result.title == fresh
    assert done.result.attachments[0].filename.startswith(fresh.split()[0].lower())
    report = done.result.data["schema_report"]
    assert report["model_passed"] is False
    assert report["fixed_by_rule"] == [
        f"name: the stock name 'Elara Nightshade' was replaced with '{fresh}'"
    ]
    assert any("the stock name 'Elara Nightshade' was replaced" in w for w in done.result.warnings)


def test_a_reply_cut_off_every_time_is_still_a_valid_card() -> None:
    engine = FakeEngine(default='{"name": "Morag Dunlevy", "description": "A baker who')
    done = run(engine, setting="1980s Glasgow")
    sheet = done.result.data["character"]
    assert sheet["name"] == "Morag Dunlevy"
    assert sheet["scenario"] == "{{user}} crosses paths with Morag Dunlevy in 1980s Glasgow."
    assert read_card(done.result.attachments[0].data).data.name == "Morag Dunlevy"
    assert done.result.data["schema_report"]["model_passed"] is False


def test_a_given_name_is_fixed_in_the_schema_and_kept_even_if_stock() -> None:
    engine = FakeEngine([reply(name="Lyra Dunlevy")])
    done = run(engine, name="Lyra Dunlevy")
    assert done.request.json_schema == sheet_schema(DEFAULT_FIELDS, name="Lyra Dunlevy")
    assert "Name: Lyra Dunlevy" in done.request.messages[-1].content
    assert done.result.title == "Lyra Dunlevy"
    assert len(done.requests) == 1


def test_only_the_fields_asked_for_are_written() -> None:
    engine = FakeEngine([json.dumps({"name": "Morag Dunlevy", "first_mes": GOOD["first_mes"]})])
    done = run(engine, fields=["first_mes", "first_mes"])
    assert done.request.json_schema == sheet_schema(("first_mes",))
    card = read_card(done.result.attachments[1].data)
    assert card.data.first_mes == GOOD["first_mes"]
    assert card.data.description == ""
    # The worked example shows the same fields only.
    assert json.loads(done.request.messages[2].content).keys() == {"name", "first_mes"}


def v2_fixture() -> str:
    return (FIXTURES / "v2_spec_example.json").read_text("utf-8")


def evolved_reply(**changes: Any) -> str:
    original = json.loads(v2_fixture())["data"]
    fields = ("name", *(f for f in SHEET_FIELDS if original.get(f)))
    return json.dumps({key: original[key] for key in fields} | changes)


def test_a_card_parameter_is_evolved_and_keeps_everything_else() -> None:
    older = "An old courier-poet, slower now, who still delivers messages in verse."
    engine = FakeEngine([evolved_reply(description=older)])
    done = run(engine, "make him older", card=v2_fixture())
    original = json.loads(v2_fixture())
    prompt = done.request.messages[-1].content
    assert original["data"]["description"] in prompt
    assert "Change: make him older" in prompt
    assert done.request.json_schema["properties"]["name"]["const"] == "Seraph Quill"
    v2 = json.loads(done.result.attachments[2].data)
    assert v2["data"]["description"] == older
    unchanged = {k: v for k, v in v2["data"].items() if k != "description"}
    assert unchanged == {k: v for k, v in original["data"].items() if k != "description"}
    assert v2["x_exporter"] == original["x_exporter"]
    assert done.result.data["evolved_from"] == "card"
    v3 = read_card(done.result.attachments[0].data)
    assert v3.data.modification_date is not None


def pillow_card_png(document: dict[str, Any]) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("chara", base64.b64encode(json.dumps(document).encode()).decode())
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def test_a_png_card_keeps_its_own_image() -> None:
    original = pillow_card_png(json.loads(v2_fixture()))
    engine = FakeEngine([evolved_reply(personality="Tired, cheerful, still rhyming.")])
    done = run(engine, "make him older", card=base64.b64encode(original).decode())
    png = done.result.attachments[0].data
    assert read_card(png).data.personality == "Tired, cheerful, still rhyming."
    assert [c for c in chunks(png) if c.kind == b"IDAT"] == [
        c for c in chunks(original) if c.kind == b"IDAT"
    ]


async def test_a_reply_in_the_conversation_evolves_the_previous_character() -> None:
    older = GOOD | {"description": "A baker in her sixties who still tastes every lie."}
    engine = FakeEngine([json.dumps(older)])
    kit = make_kit(character, engine=engine)
    history = (
        Turn(command="poem", params={"topic": "bread"}, text="Name: Not A Character"),
        Turn(command="character", params={"concept": CONCEPT}, text=sheet_text(GOOD)),
    )
    invocation = Invocation(command="character", params={"concept": "make her older"})
    result = await Runner(kit.host, engine).run(invocation, history=history)
    prompt = engine.requests[0].messages[-1].content
    assert json.dumps(GOOD["description"]) in prompt
    assert "Change: make her older" in prompt
    assert engine.requests[0].json_schema == sheet_schema(DEFAULT_FIELDS, name="Morag Dunlevy")
    assert result.data["character"] == older
    assert result.data["evolved_from"] == "conversation"


def test_a_bad_card_is_refused_before_the_engine_is_asked() -> None:
    engine = FakeEngine()
    with pytest.raises(InvalidParameters) as caught:
        run(engine, "make her older", card='{"spec": "chara_card_v2", "data": {"name": "A",}}')
    assert caught.value.problems[0].field == "card"
    assert caught.value.problems[0].problem == (
        "The card is not valid JSON (it breaks at line 1, column 48)."
    )
    assert engine.requests == []


def test_the_cli_reads_a_card_file_and_saves_the_three_files(
    cli: Invoke, cli_engine: FakeEngine, tmp_path: Path
) -> None:
    card_path = tmp_path / "seraph.png"
    card_path.write_bytes(pillow_card_png(json.loads(v2_fixture())))
    cli_engine.script(evolved_reply(scenario="{{user}} visits {{char}} in his retirement."))
    out = tmp_path / "out"
    shown = cli(
        "run",
        "character",
        "--card",
        f"@{card_path}",
        "make him older",
        "-",
        "--output-dir",
        str(out),
    )
    assert shown.exit_code == 0, shown.output
    assert sorted(p.name for p in out.iterdir()) == [
        "seraph-quill.card.json",
        "seraph-quill.png",
        "seraph-quill.v2.json",
    ]
    saved = read_card((out / "seraph-quill.png").read_bytes())
    assert saved.data.scenario == "{{user}} visits {{char}} in his retirement."
    assert saved.data.extensions == json.loads(v2_fixture())["data"]["extensions"]


def test_the_cli_names_a_card_file_it_cannot_read(cli: Invoke, cli_engine: FakeEngine) -> None:
    shown = cli("run", "character", "--card", "@missing.png", "make her older")
    assert shown.exit_code == 2
    assert "cannot read 'missing.png': No such file or directory" in shown.output
    assert "Traceback" not in shown.output
    assert cli_engine.requests == []


@pytest.mark.model
def test_on_the_embedded_model_the_card_holds_the_character(
    musekit_script: Script, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # One thread, one field and one repair round keep this quick; the tiny model's prose
    # is not the point: the card must be valid and hold what the result shows.
    monkeypatch.setenv("MUSEKIT_ENGINE__THREADS", "1")
    monkeypatch.setenv("MUSEKIT_PLUGIN_CONFIG__CHARACTER__REPAIR_ROUNDS", "1")
    done = musekit_script(
        "run",
        "character",
        "a lighthouse keeper who collects lost letters",
        "--fields",
        "tags",
        "--seed",
        "2",
        "--json",
        "--output-dir",
        str(tmp_path),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    sheet = result["data"]["character"]
    assert set(sheet) == {"name", "tags"}
    assert result["title"] == sheet["name"]
    assert not is_stock(sheet["name"])
    assert 1 <= len(sheet["tags"]) <= 6
    card = read_card((tmp_path / result["attachments"][0]["filename"]).read_bytes())
    assert card.data.name == sheet["name"]
    assert card.data.tags == sheet["tags"]
    assert result["data"]["schema_report"]["passed"] is True
    assert result["metrics"]["engine"] == "embedded"


def test_evolving_only_some_fields_keeps_a_long_card_s_other_fields_exactly() -> None:
    document = json.loads(v2_fixture())
    long_text = "A very long description. " * 40
    document["data"]["description"] = long_text
    engine = FakeEngine(
        [json.dumps({"name": "Seraph Quill", "personality": "Tired, still rhyming."})]
    )
    done = run(engine, "make him tired", card=json.dumps(document), fields=["personality"])
    assert done.request.json_schema == sheet_schema(("personality",), name="Seraph Quill")
    card = read_card(done.result.attachments[1].data)
    assert card.data.personality == "Tired, still rhyming."
    assert card.data.description == long_text
    assert done.result.warnings == []


def test_rewriting_a_field_longer_than_the_sheet_allows_says_so() -> None:
    document = json.loads(v2_fixture())
    document["data"]["description"] = "A very long description. " * 40
    engine = FakeEngine([evolved_reply(description="Shorter now, and older.")])
    done = run(engine, "make him older", card=json.dumps(document))
    assert done.result.warnings == [
        "The card's description held more than this command writes, so the rewritten text "
        "is shorter; pass --fields with only the fields to change to keep the others exactly "
        "as they were."
    ]


def test_the_command_conforms() -> None:
    kit = make_kit(character)
    assert check_conformance(kit, "character", reply=reply()) == []


async def test_a_thread_begun_from_a_card_keeps_that_card_s_other_fields() -> None:
    original = json.loads(v2_fixture())
    earlier = evolved_reply(description="An old courier-poet who still delivers in verse.")
    later = evolved_reply(description="A very old courier-poet, retired to a houseboat.")
    engine = FakeEngine([later])
    kit = make_kit(character, engine=engine)
    first_turn = json.loads(earlier)
    history = (
        Turn(
            command="character",
            params={"concept": "make him older", "card": v2_fixture()},
            text=sheet_text(first_turn),
        ),
    )
    params = {"concept": "older still", "card": v2_fixture()}
    result = await Runner(kit.host, engine).run(
        Invocation(command="character", params=params), history=history
    )
    # The model sees the previous turn's character, not the card's first version.
    assert json.dumps(first_turn["description"]) in engine.requests[0].messages[-1].content
    v2 = json.loads(result.attachments[2].data)
    assert v2["data"]["description"] == "A very old courier-poet, retired to a houseboat."
    assert v2["data"]["character_book"] == original["data"]["character_book"]
    assert v2["data"]["x_future_field"] == original["data"]["x_future_field"]
    assert v2["x_exporter"] == original["x_exporter"]
    assert result.data["evolved_from"] == "conversation"


def test_the_schema_bench_counts_valid_and_invalid_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent.parent / "bench"))
    bench = importlib.import_module("character_schema")
    runner = Runner(bench.character_host(60.0), FakeEngine(default=reply()))
    made = run_sync(bench.pipeline(runner, CONCEPT, 0))
    assert made.valid
    assert made.first_reply_valid
    assert made.model_valid
    plain = run_sync(bench.baseline(FakeEngine(default="Morag is a baker."), CONCEPT, 0))
    assert not plain.valid
    assert run_sync(bench.baseline(FakeEngine(default=reply()), CONCEPT, 0)).valid
