"""``character``: a character as structured fields, exported as a Character Card (V3 and V2).

The model's reply is constrained by a JSON schema (through the engine), validated with
pydantic and checked for a stock fantasy name (:mod:`musekit_plugins.character_sheet`);
a reply that fails is sent back with its problems quoted (:func:`musekit.refine.refine`),
and what still fails is fixed by rule. A card given in ``card`` (JSON or PNG, V2 or
V3), or the card of the conversation's previous ``character`` result, is evolved by the
``concept`` ("make her older"), keeping everything the sheet does not rewrite.
docs/character.md describes it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from musekit import (
    ChatRequest,
    CommandSpec,
    Context,
    Example,
    Limits,
    Params,
    Result,
    Sampling,
    hookimpl,
)
from musekit.hookspecs import RegisterCommand, RegisterSettings
from musekit.refine import refine
from musekit_plugins.cards import Card, CardData, CardError, card_file, is_png, read_card
from musekit_plugins.character_fixup import fix_up
from musekit_plugins.character_prompts import (
    EXAMPLE_SHEET,
    evolve_messages,
    new_messages,
    repair_messages,
)
from musekit_plugins.character_result import (
    Base,
    Outcome,
    build_card,
    card_sheet,
    character_result,
)
from musekit_plugins.character_sheet import (
    DEFAULT_FIELDS,
    LENGTHS,
    SHEET_FIELDS,
    TAG_COUNT,
    TAG_LENGTH,
    Brief,
    SheetField,
    SheetRules,
    check_sheet,
    parse_sheet_text,
)

MUSEKIT_API = (1,)

LIMITS = Limits(max_output_tokens=768, max_samples=4, max_seconds=180)

#: Characters a card parameter may hold (a base64 PNG of about 3 MB).
MAX_CARD_TEXT = 4_000_000

#: Repairs stop this far into the command's time limit, so a character is returned in time.
TIME_SHARE = 0.75

#: A reply's token allowance: its characters at this many a token, plus JSON's own.
CHARS_PER_TOKEN = 3
JSON_TOKENS = 16


class CharacterParams(Params):
    concept: str = Field(
        min_length=1,
        max_length=1000,
        description="Who the character is; with a card to evolve, the change ('make her older').",
    )
    setting: str | None = Field(
        None, min_length=1, max_length=100, description="Genre or setting, e.g. 'noir Venice'."
    )
    role: str | None = Field(
        None, min_length=1, max_length=60, description="Their role in the story, e.g. 'rival'."
    )
    tone: str | None = Field(
        None, min_length=1, max_length=40, description="A tone, e.g. 'wry' or 'gothic'."
    )
    name: str | None = Field(
        None,
        min_length=LENGTHS["name"][0],
        max_length=LENGTHS["name"][1],
        description="The character's name (kept as given); made up when not given.",
    )
    fields: list[SheetField] | None = Field(
        None,
        min_length=1,
        description="Card fields to write, besides the name (repeat the option for several); "
        "default: " + ", ".join(DEFAULT_FIELDS) + ".",
    )
    card: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_CARD_TEXT,
        description="A card to evolve: its JSON, or a PNG or JSON card file in base64 "
        "(on the command line, @FILE reads a file).",
        json_schema_extra={"x-musekit-file": True},
    )
    seed: int | None = Field(None, ge=0, description="Fix the randomness to repeat a result.")

    @field_validator("fields")
    @classmethod
    def _distinct_fields(cls, value: list[SheetField] | None) -> list[SheetField] | None:
        return None if value is None else list(dict.fromkeys(value))

    @field_validator("card")
    @classmethod
    def _readable_card(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                read_card(card_file(value))
            except CardError as exc:
                raise PydanticCustomError("card", str(exc)) from None
        return value


class CharacterSettings(BaseModel):
    """Sampling and the size of the check-repair loop."""

    temperature: float = Field(0.7, ge=0.0, le=2.0, description="Sampling temperature.")
    min_p: float = Field(
        0.05, ge=0.0, le=1.0, description="Drop tokens below this share of the top one."
    )
    candidates: int = Field(
        1, ge=1, le=LIMITS.max_samples, description="Replies asked for in one request."
    )
    repair_rounds: int = Field(
        2, ge=0, le=4, description="Rounds of re-asking with the problems quoted, at most."
    )


SPEC = CommandSpec(
    name="character",
    description="Create or evolve a character, exported as a Character Card (V3 PNG/JSON, V2).",
    params=CharacterParams,
    text_param="concept",
    examples=(
        Example(params={"concept": "a lighthouse keeper who collects lost letters"}),
        Example(
            params={
                "concept": "a disgraced court alchemist",
                "setting": "Renaissance Venice",
                "role": "rival",
                "tone": "wry",
            }
        ),
        Example(
            params={"concept": "a retired stunt driver", "fields": ["description", "first_mes"]},
            description="Only some card fields.",
        ),
    ),
    limits=LIMITS,
)


def max_tokens(fields: tuple[SheetField, ...]) -> int:
    """Tokens allowed for a reply with ``fields``: enough for every field at its longest."""
    chars = LENGTHS["name"][1] + sum(
        TAG_COUNT[1] * TAG_LENGTH[1] if f == "tags" else LENGTHS[f][1] for f in fields
    )
    return min(chars // CHARS_PER_TOKEN + JSON_TOKENS * (len(fields) + 1), LIMITS.max_output_tokens)


def find_base(ctx: Context, params: CharacterParams) -> Base | None:
    """The character to evolve: the card parameter's, updated by the conversation's latest
    ``character`` result when there is one; ``None`` for a new character."""
    base = None
    if params.card is not None:
        raw = card_file(params.card)
        base = Base(read_card(raw), raw if is_png(raw) else None, "card")
    for turn in reversed(ctx.history):
        sheet = parse_sheet_text(turn.text) if turn.command == ctx.spec.name else {}
        if sheet:
            card = base.card if base else Card(data=CardData(name=sheet["name"]))
            card = card.model_copy(update={"data": card.data.model_copy(update=sheet)})
            return Base(card, base.image if base else None, "conversation")
    return base


async def run_character(ctx: Context, params: CharacterParams) -> Result:
    settings = ctx.settings if isinstance(ctx.settings, CharacterSettings) else CharacterSettings()
    base = find_base(ctx, params)
    brief = Brief(params.concept, params.setting, params.role, params.tone)
    shortened: list[str] = []
    if base is None:
        fields = tuple(params.fields or DEFAULT_FIELDS)
        rules = SheetRules(fields, name=params.name, copied=EXAMPLE_SHEET)
        messages = new_messages(brief, fields, params.name)
    else:
        current = card_sheet(base.card)
        fields = tuple(params.fields or [f for f in SHEET_FIELDS if f in current] or DEFAULT_FIELDS)
        rules = SheetRules(fields, name=params.name or base.card.data.name)
        messages = evolve_messages(current, params.concept, brief, fields)
        shortened = [f for f in fields if f != "tags" and len(current.get(f, "")) > LENGTHS[f][1]]
    request = ChatRequest(
        messages=messages,
        sampling=Sampling(
            temperature=settings.temperature,
            min_p=settings.min_p,
            max_tokens=max_tokens(fields),
            seed=params.seed,
        ),
        json_schema=rules.model().model_json_schema(),
    )
    refined = await refine(
        ctx,
        request,
        lambda text: check_sheet(text, rules),
        lambda text, report: repair_messages(messages, text, report),
        candidates=settings.candidates,
        repair_rounds=settings.repair_rounds,
        repairs_per_round=1,
        time_budget=ctx.spec.limits.max_seconds * TIME_SHARE,
    )
    best = refined.best
    changes: tuple[str, ...] = ()
    if best.report.passed and best.report.sheet is not None:
        sheet = best.report.sheet
    else:
        fixed = fix_up(best.text, rules, brief)
        sheet, changes = fixed.sheet, fixed.changes
    outcome = Outcome(best.report, refined.repair_rounds, changes)
    card = build_card(sheet, base, params.concept)
    result = character_result(card, written=fields, outcome=outcome, base=base)
    if shortened:
        result.warnings.append(
            f"The card's {', '.join(shortened)} held more than this command writes, so the "
            "rewritten text is shorter; pass --fields with only the fields to change to keep "
            "the others exactly as they were."
        )
    return result


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    register(SPEC, run_character)


@hookimpl
def register_settings(register: RegisterSettings) -> None:
    register(CharacterSettings)
