"""Server-sent events read straight from a response's bytes: the ``data`` of each event.

The token loop's own decoder for the WHATWG ``text/event-stream`` format, cheaper per
event than decoding the body to text and then to lines and events, one generator each
(httpx-sse): one streamed token is one event, so this is the hot path of every answer.
Lines end in CRLF, LF or CR; a blank line ends an event; ``data`` lines are joined with
a line feed; a line starting with a colon is a comment; a line without a colon is a
field name with an empty value; a leading byte-order mark is dropped. Chat completions
use no other field (``event``, ``id`` and ``retry`` are read past), and an event
without ``data`` is not dispatched, as the format says.
"""

from __future__ import annotations

_BOM = b"\xef\xbb\xbf"


class EventDecoder:
    """Feeds on a stream's byte chunks, split anywhere; returns each completed event's data."""

    def __init__(self) -> None:
        self._tail = b""  # the unfinished last line
        self._data: list[bytes] = []  # the current event's data lines so far
        self._started = False  # past the stream's start (and a byte-order mark there)
        self._after_cr = False  # the last chunk ended in CR: a LF next ends no other line

    def feed(self, chunk: bytes) -> list[str]:
        """The data of every event that ``chunk`` completes, in order."""
        if self._after_cr and chunk:
            self._after_cr = False
            chunk = chunk.removeprefix(b"\n")  # the second half of a CRLF
        text = self._tail + chunk if self._tail else chunk
        if not self._started:
            if len(text) < len(_BOM) and _BOM.startswith(text):
                self._tail = text  # could still be a byte-order mark
                return []
            self._started = True
            text = text.removeprefix(_BOM)
        if b"\r" in text:
            self._after_cr = text.endswith(b"\r")
            text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = text.split(b"\n")
        self._tail = lines.pop()
        return self._events(lines)

    def _events(self, lines: list[bytes]) -> list[str]:
        events: list[str] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    joined = data[0] if len(data) == 1 else b"\n".join(data)
                    events.append(joined.decode("utf-8", "replace"))
                    data.clear()
            elif line.startswith(b"data"):
                if line.startswith(b"data: "):
                    data.append(line[6:])
                elif line.startswith(b"data:"):
                    data.append(line[5:])
                elif line == b"data":
                    data.append(b"")
                # else: another field whose name starts with "data": ignored.
        return events
