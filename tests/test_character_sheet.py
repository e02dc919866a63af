"""The character sheet: its JSON schema, the checks, the fix-up by rule, its text form."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

from musekit_plugins.character_fixup import fix_up
from musekit_plugins.character_names import fresh_name, is_stock, stock_names, stock_words
from musekit_plugins.character_prompts import EXAMPLE_SHEET
from musekit_plugins.character_sheet import (
    DEFAULT_FIELDS,
    LENGTHS,
    SHEET_FIELDS,
    Brief,
    SheetRules,
    check_sheet,
    parse_sheet_text,
    sheet_schema,
    sheet_text,
)

BRIEF = Brief("a night-shift baker who can taste lies", "1980s Glasgow", "confidant", "wry")

GOOD: dict[str, Any] = {
    "name": "Morag Dunlevy",
    "nickname": "Mo",
    "description": "A night-shift baker with burn scars on both wrists and a radio tuned to jazz.",
    "personality": "Dry, loyal, impossible to flatter.",
    "scenario": "{{user}} comes in at 4am for bread and stays for the gossip.",
    "first_mes": "*Morag wipes flour off the counter.* We're not open. What do you want?",
    "mes_example": "<START>\n{{user}}: Is that true?\n{{char}}: Tastes like a lie to me.",
    "tags": ["baker", "glasgow", "slice of life"],
}


@pytest.mark.parametrize(
    "fields", [DEFAULT_FIELDS, SHEET_FIELDS, ("first_mes",), ("tags", "mes_example")]
)
def test_the_schema_asks_for_exactly_the_fields_and_llama_cpp_accepts_it(
    fields: tuple[Any, ...],
) -> None:
    schema = sheet_schema(fields)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["name", *[f for f in SHEET_FIELDS if f in fields]]
    assert list(schema["properties"]) == schema["required"]
    for key, (low, high) in LENGTHS.items():
        if key in schema["properties"]:
            assert schema["properties"][key]["minLength"] == low
            assert schema["properties"][key]["maxLength"] == high
    # The embedded engine turns it into a llama.cpp grammar; that must work.
    LlamaGrammar.from_string(json_schema_to_gbnf(json.dumps(schema)), verbose=False)
    # The worked example and a good reply validate against their own schema.
    for sheet in (EXAMPLE_SHEET, GOOD):
        reply = json.dumps({key: sheet[key] for key in schema["required"]})
        assert check_sheet(reply, SheetRules(fields)).passed


def test_a_given_name_is_fixed_in_the_schema() -> None:
    schema = sheet_schema(DEFAULT_FIELDS, name="Elara Moss")
    assert schema["properties"]["name"]["const"] == "Elara Moss"
    LlamaGrammar.from_string(json_schema_to_gbnf(json.dumps(schema)), verbose=False)
    # The user chose it: a stock word in it is not a problem.
    reply = json.dumps({**{k: GOOD[k] for k in ("name", *DEFAULT_FIELDS)}, "name": "Elara Moss"})
    assert check_sheet(reply, SheetRules(DEFAULT_FIELDS, name="Elara Moss")).passed
    other = check_sheet(
        json.dumps({k: GOOD[k] for k in ("name", *DEFAULT_FIELDS)}),
        SheetRules(DEFAULT_FIELDS, name="Elara Moss"),
    )
    assert other.problems == ("name: Input should be 'Elara Moss'",)


def reply(**changes: Any) -> str:
    sheet = {k: GOOD[k] for k in ("name", *DEFAULT_FIELDS)} | changes
    return json.dumps({k: v for k, v in sheet.items() if v is not None})


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            '{"name": "Morag", "descr',
            ("The reply is not complete JSON (it breaks at line 1, column 19).",),
        ),
        (reply(personality=None), ("personality: Field required",)),
        (reply(description="Short."), ("description: String should have at least 20 characters",)),
        (reply(tags=[]), ("tags: List should have at least 1 item after validation, not 0",)),
        (reply(age="40"), ("age: not a field to write",)),
        (
            reply(name="Kael Ravenwood"),
            (
                "name: 'Kael Ravenwood' uses a stock fantasy name (Kael, Ravenwood); choose a "
                "rarer name that fits the setting",
            ),
        ),
        (reply(scenario=GOOD["description"]), ("scenario: repeats description word for word",)),
        (
            reply(personality=EXAMPLE_SHEET["personality"]),
            ("personality: copies the worked example; write this character's own",),
        ),
    ],
)
def test_check_names_each_problem(text: str, problems: tuple[str, ...]) -> None:
    report = check_sheet(text, SheetRules(DEFAULT_FIELDS, copied=EXAMPLE_SHEET))
    assert report.problems == problems
    assert not report.passed
    assert report.sheet is None or problems  # a sheet only comes with a valid reply
    assert 0 <= report.score < 1


def test_an_example_dialogue_must_start_with_the_start_line() -> None:
    rules = SheetRules(("mes_example",))
    bad = json.dumps({"name": "Morag Dunlevy", "mes_example": "{{user}}: Hi there\n{{char}}: Hm."})
    assert check_sheet(bad, rules).problems == ("mes_example: must start with a <START> line",)
    fixed = fix_up(bad, rules, BRIEF)
    assert fixed.sheet["mes_example"] == "<START>\n{{user}}: Hi there\n{{char}}: Hm."
    assert check_sheet(json.dumps(fixed.sheet), rules).passed


def test_fix_up_keeps_what_fits_and_replaces_a_stock_name_everywhere() -> None:
    text = json.dumps(
        {
            "name": "Elara Nightshade",
            "description": "Elara Nightshade bakes at night. Elara hates mornings." + " x" * 300,
            "personality": "Wry.",
            "scenario": "{{user}} meets Elara at the bakery door before dawn.",
            "first_mes": "Elara says: we're shut.",
            "tags": ["baker", "b" * 40, "baker"],
        }
    )
    fixed = fix_up(text, SheetRules(DEFAULT_FIELDS), BRIEF)
    fresh = fresh_name(BRIEF.concept)
    first = fresh.split()[0]
    assert fixed.sheet["name"] == fresh
    assert fixed.sheet["description"].startswith(f"{fresh} bakes at night. {first} hates mornings.")
    assert len(fixed.sheet["description"]) <= LENGTHS["description"][1]
    assert fixed.sheet["scenario"] == f"{{{{user}}}} meets {first} at the bakery door before dawn."
    assert fixed.sheet["personality"] == "Wry; slow to trust, quick to notice."
    assert fixed.sheet["tags"] == ["baker", "b" * 24]
    assert (
        fixed.changes[0] == f"name: the stock name 'Elara Nightshade' was replaced with '{fresh}'"
    )
    assert "personality: missing or too short, so written by rule" in fixed.changes
    assert check_sheet(json.dumps(fixed.sheet), SheetRules(DEFAULT_FIELDS)).passed


def test_fix_up_salvages_a_reply_cut_off_mid_string() -> None:
    text = '{"name": "Morag Dunlevy", "description": "A baker who tastes lies in the bread she'
    fixed = fix_up(text, SheetRules(DEFAULT_FIELDS), BRIEF)
    assert fixed.sheet["name"] == "Morag Dunlevy"
    assert fixed.sheet["description"] == "A baker who tastes lies in the bread she"
    assert fixed.sheet["scenario"] == "{{user}} crosses paths with Morag Dunlevy in 1980s Glasgow."
    assert fixed.sheet["tags"] == ["confidant", "1980s Glasgow"]


@settings(max_examples=60, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=300),
        st.dictionaries(
            st.sampled_from(["name", *SHEET_FIELDS, "age"]),
            st.one_of(st.text(max_size=500), st.lists(st.text(max_size=40), max_size=9)),
        ).map(json.dumps),
    ),
    fields=st.lists(st.sampled_from(SHEET_FIELDS), min_size=1, unique=True),
    name=st.one_of(st.none(), st.sampled_from(["Elara Voss", "Morag Dunlevy"])),
)
def test_fix_up_always_gives_a_sheet_that_passes(
    text: str, fields: list[Any], name: str | None
) -> None:
    rules = SheetRules(
        tuple(f for f in SHEET_FIELDS if f in fields), name=name, copied=EXAMPLE_SHEET
    )
    fixed = fix_up(text, rules, BRIEF)
    report = check_sheet(json.dumps(fixed.sheet), rules)
    assert report.passed, (report.problems, fixed.sheet)
    if name is not None:
        assert fixed.sheet["name"] == name


def test_the_text_form_reads_back() -> None:
    text = sheet_text(GOOD)
    assert text.splitlines()[0] == "Name: Morag Dunlevy"
    assert "Example dialogue: <START>\n{{user}}: Is that true?" in text
    assert "Tags: baker, glasgow, slice of life" in text
    assert parse_sheet_text(text) == GOOD
    assert parse_sheet_text("A poem about bread.\nNo labels here.") == {}


def test_stock_names_come_from_our_list_and_fresh_names_are_not_stock() -> None:
    assert {"elara", "kael", "nightshade", "ravenwood"} <= stock_names()
    assert stock_words("Lyra Stormborn-Vance") == ["Lyra", "Stormborn", "Vance"]
    assert not is_stock("Morag Dunlevy")
    assert not is_stock("Elarana")  # whole words only
    names = {fresh_name(f"concept {n}") for n in range(50)}
    assert len(names) == 50
    assert not any(is_stock(n) for n in names)
    assert fresh_name("a baker") == fresh_name("A Baker")
