"""Button values: what a button does, written into it, read back or refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from musekit_bots.common.actions import (
    MAX_LENGTH,
    InvalidAction,
    Regenerate,
    ShowVariation,
    Vote,
    decode,
    encode,
)

_IDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=64)
_ACTIONS = st.one_of(
    st.builds(Regenerate, _IDS),
    st.builds(ShowVariation, _IDS, st.integers(0, 10**6)),
    st.builds(Vote, st.integers(0, 10**15), st.sampled_from([1, -1])),
)


@given(_ACTIONS)
def test_every_action_reads_back_and_fits_both_platforms(action: object) -> None:
    assert isinstance(action, Regenerate | ShowVariation | Vote)
    value = encode(action)
    assert len(value) <= MAX_LENGTH <= 100
    assert decode(value) == action


def test_values_are_short_and_readable() -> None:
    assert encode(Regenerate("a1b2c3d4e5f6")) == "mk:regen:a1b2c3d4e5f6"
    assert encode(ShowVariation("a1b2c3d4e5f6", 2)) == "mk:var:a1b2c3d4e5f6:2"
    assert encode(Vote(17, -1)) == "mk:vote:17:down"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "regen:abc",
        "mk:regen:",
        "mk:regen:a b",
        "mk:regen:abc:extra",
        "mk:var:abc:-1",
        "mk:var:abc:\u00b2",
        "mk:vote:7:sideways",
        "mk:vote:x:up",
        "mk:delete:abc",
        "mk:regen:" + "a" * 200,
    ],
)
def test_anything_else_is_refused(value: str) -> None:
    with pytest.raises(InvalidAction):
        decode(value)


def test_an_id_that_cannot_be_encoded_is_refused() -> None:
    with pytest.raises(InvalidAction):
        encode(Regenerate("../etc"))
    with pytest.raises(InvalidAction):
        encode(ShowVariation("abc", -1))
