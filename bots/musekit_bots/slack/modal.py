"""A Slack modal generated from a command spec, and its submitted values as parameters.

Choices become menus, numbers number inputs, flags a yes/no menu, text a text
input (several lines for the command's free text). A modal opened by a global
shortcut asks which conversation to post in.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.fields import FieldInfo

# The CLI's reading of a field's type (its choices), shared rather than copied.
from musekit.errors import InvalidParameters
from musekit.spec import CommandSpec, choices_of, unwrap_optional
from musekit_bots.common.args import checked_params, read_value

#: The callback id of every musekit modal (its command is in the private metadata).
MODAL_CALLBACK = "musekit_modal"
#: The block id of the "post in" conversation picker.
WHERE_BLOCK = "musekit_where"
_FIELD_BLOCK = "musekit_param_"
_MAX_OPTIONS = 100


def modal_view(spec: CommandSpec, *, channel_id: str | None) -> dict[str, Any]:
    """The modal for ``spec``; with no ``channel_id``, it asks where to post."""
    blocks = [_input(name, info, spec) for name, info in spec.params.model_fields.items()]
    if channel_id is None:
        blocks.append(
            {
                "type": "input",
                "block_id": WHERE_BLOCK,
                "label": _plain("Post in"),
                "element": {
                    "type": "conversations_select",
                    "action_id": "value",
                    "default_to_current_conversation": True,
                },
            }
        )
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "title": _plain(spec.name[:24]),
        "submit": _plain("Run"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"command": spec.name, "channel": channel_id}),
        "blocks": blocks,
    }


def submitted(view: dict[str, Any]) -> tuple[str, str | None]:
    """The command and the channel a submitted modal is for."""
    metadata = json.loads(view.get("private_metadata") or "{}")
    channel = metadata.get("channel")
    values = view.get("state", {}).get("values", {})
    if channel is None:
        channel = values.get(WHERE_BLOCK, {}).get("value", {}).get("selected_conversation")
    return str(metadata.get("command", "")), channel


def modal_params(spec: CommandSpec, view: dict[str, Any]) -> dict[str, Any]:
    """The parameters a submitted modal gives; raises :class:`InvalidParameters` (its
    problems keyed to fields) when the spec refuses them."""
    values = view.get("state", {}).get("values", {})
    params: dict[str, Any] = {}
    for name, info in spec.params.model_fields.items():
        state = values.get(_FIELD_BLOCK + name, {}).get("value", {})
        raw = state.get("value")
        if raw is None and state.get("selected_option"):
            raw = state["selected_option"].get("value")
        if raw is not None and str(raw).strip():
            params[name] = read_value(info, str(raw))
    return checked_params(spec, params)


def field_errors(spec: CommandSpec, exc: InvalidParameters) -> dict[str, str]:
    """The modal's error messages: one per input block, as Slack's ``errors`` response wants."""
    errors: dict[str, str] = {}
    first = _FIELD_BLOCK + next(iter(spec.params.model_fields), "")
    for problem in exc.problems:
        name = problem.field.split(".")[0]
        block = _FIELD_BLOCK + name if name in spec.params.model_fields else first
        errors.setdefault(block, problem.problem)  # one about the whole form: on the first
    return errors


def _input(name: str, info: FieldInfo, spec: CommandSpec) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": _FIELD_BLOCK + name,
        "label": _plain(name.replace("_", " ").capitalize()),
        "optional": not info.is_required(),
        "element": _element(info, multiline=name == spec.text_param),
    }
    if info.description:
        block["hint"] = _plain(info.description[:2000])
    return block


def _element(info: FieldInfo, *, multiline: bool) -> dict[str, Any]:
    annotation = unwrap_optional(info.annotation)
    default = None if info.is_required() else info.default
    choices = choices_of(annotation)
    if annotation is bool:
        choices = [True, False]
    if choices:
        options = [_option(choice) for choice in choices[:_MAX_OPTIONS]]
        element: dict[str, Any] = {
            "type": "static_select",
            "action_id": "value",
            "options": options,
        }
        if default is not None and default in choices:
            element["initial_option"] = _option(default)
        return element
    if annotation in (int, float):
        element = {
            "type": "number_input",
            "action_id": "value",
            "is_decimal_allowed": annotation is float,
        }
    else:
        element = {"type": "plain_text_input", "action_id": "value", "multiline": multiline}
    if default is not None and not isinstance(default, list | tuple | dict):
        element["initial_value"] = str(default)
    return element


def _option(value: Any) -> dict[str, Any]:
    shown = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    raw = json.dumps(value) if isinstance(value, bool) else str(value)
    return {"text": _plain(shown[:75]), "value": raw[:150]}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}
