"""The CMU Pronouncing Dictionary shipped inside musekit, loaded once on first use."""

from __future__ import annotations

import gzip
import threading
import time
from importlib import resources
from pathlib import Path

_DATA = "cmudict.dict.gz"


class Pronunciations:
    """Words to their ARPAbet pronunciations (CMU Pronouncing Dictionary, BSD licence).

    Loading is lazy and happens once, under a lock, on the first lookup; after
    that lookups are plain dictionary reads. ``Pronunciations.shared()`` is the
    process-wide instance the rest of :mod:`musekit.craft` uses.
    """

    _shared: Pronunciations | None = None
    _shared_lock = threading.Lock()

    def __init__(self, path: Path | None = None) -> None:
        """Read ``path`` (a cmudict file, optionally gzipped) or the shipped data."""
        self._path = path
        self._words: dict[str, str] | None = None
        self._lock = threading.Lock()
        self.load_seconds: float | None = None
        """How long loading took, once it has happened."""

    @classmethod
    def shared(cls) -> Pronunciations:
        """The process-wide dictionary (loaded on its first lookup)."""
        if cls._shared is None:
            with cls._shared_lock:
                if cls._shared is None:
                    cls._shared = cls()
        return cls._shared

    @property
    def loaded(self) -> bool:
        """Whether the data has been read yet."""
        return self._words is not None

    def load(self) -> None:
        """Read the data now (idempotent; lookups call this themselves)."""
        if self._words is not None:
            return
        with self._lock:
            if self._words is None:
                started = time.perf_counter()
                words = _parse(self._read())
                self.load_seconds = time.perf_counter() - started
                self._words = words

    def phones(self, word: str) -> tuple[str, ...]:
        """Every pronunciation of ``word`` (case-insensitive), e.g. ``("F AY1 ER0", "F AY1 R")``.

        Each is a space-separated string of ARPAbet phones whose vowels carry a
        stress digit (1 primary, 2 secondary, 0 none). Unknown words give ``()``.
        """
        if self._words is None:
            self.load()
        assert self._words is not None
        entry = self._words.get(word.lower())
        if entry is None:
            return ()
        return tuple(variant.partition("#")[0].strip() for variant in entry.split("|"))

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and bool(self.phones(word))

    def __len__(self) -> int:
        self.load()
        assert self._words is not None
        return len(self._words)

    def _read(self) -> str:
        if self._path is None:
            data = resources.files("musekit.craft").joinpath("data", _DATA).read_bytes()
        else:
            data = self._path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return data.decode("utf-8")


def _parse(text: str) -> dict[str, str]:
    """``word phones # comment`` lines, variants spelled ``word(2)``, as word -> "p1|p2".

    Pronunciations stay unsplit strings until looked up: loading stays quick.
    """
    words: dict[str, str] = {}
    for line in text.splitlines():
        word, _, phones = line.partition(" ")
        if word.endswith(")"):
            word = word[: word.index("(")]
            words[word] = f"{words[word]}|{phones}" if word in words else phones
        elif phones:
            words[word] = phones
    return words
