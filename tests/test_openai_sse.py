"""The engine's own server-sent-events decoder, checked against httpx-sse on any stream."""

from __future__ import annotations

import itertools

from httpx_sse._decoders import SSEDecoder, SSELineDecoder
from hypothesis import given
from hypothesis import strategies as st

from musekit.engine.openai.sse import EventDecoder

# Text of one line: anything but the three line ends.
line_text = st.text(st.characters(blacklist_characters="\r\n", codec="utf-8"), max_size=30)
data_line = st.one_of(
    line_text.map(lambda value: f"data: {value}"),
    line_text.map(lambda value: f"data:{value}"),
    st.just("data"),
)
other_line = st.one_of(
    line_text.map(lambda value: f":{value}"),  # a comment
    line_text.map(lambda value: f"event: {value}"),
    st.text(st.characters(whitelist_categories=("Nd",)), min_size=1, max_size=3).map(
        lambda value: f"retry: {value}"
    ),
    line_text.map(lambda value: f"dataset: {value}"),  # a field that only starts with "data"
)
event = st.lists(st.one_of(data_line, other_line), max_size=4).flatmap(
    lambda lines: st.permutations([*lines, "data: {}"])  # at least one data line
)
stream = st.tuples(
    st.lists(event, min_size=1, max_size=6),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)


def httpx_sse_data(text: str) -> list[str]:
    """The data of every event httpx-sse's decoders find in ``text``."""
    lines, events = SSELineDecoder(), SSEDecoder()
    found = []
    for line in [*lines.decode(text), *lines.flush()]:
        sse = events.decode(line.rstrip("\n"))
        if sse is not None:
            found.append(sse.data)
    return found


def decoded(chunks: list[bytes]) -> list[str]:
    decoder = EventDecoder()
    return [data for chunk in chunks for data in decoder.feed(chunk)]


@given(stream)
def test_any_stream_split_anywhere_gives_the_events_httpx_sse_gives(
    case: tuple[list[list[str]], str, list[int]],
) -> None:
    events, newline, cuts = case
    text = "".join(newline.join(lines) + newline * 2 for lines in events)
    raw = text.encode()
    bounds = [0, *sorted(cut % (len(raw) + 1) for cut in cuts), len(raw)]
    chunks = [raw[start:end] for start, end in itertools.pairwise(bounds)]

    assert decoded(chunks) == httpx_sse_data(text)


def test_multi_line_data_is_joined_and_an_event_without_data_is_not_sent() -> None:
    chunks = [b"data: first\r\ndata:second\r\n\r\n", b"event: ping\n: keep-alive\n\n"]

    assert decoded(chunks) == ["first\nsecond"]


def test_a_byte_order_mark_at_the_start_is_dropped_even_split_in_two() -> None:
    assert decoded([b"\xef\xbb", b"\xbfdata: [DONE]\n\n"]) == ["[DONE]"]


def test_a_character_split_between_chunks_is_read_whole() -> None:
    raw = 'data: {"content": "l\u00e8vres \u266a"}\n\n'.encode()

    assert decoded([raw[:21], raw[21:]]) == ['{"content": "l\u00e8vres \u266a"}']


def test_an_event_the_stream_ends_before_finishing_is_not_sent() -> None:
    assert decoded([b"data: 1\n\ndata: 2\n"]) == ["1"]
