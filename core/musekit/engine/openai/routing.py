"""Which replica serves a request: consistent hashing by affinity, round-robin without.

Requests that share an affinity key (a conversation, a plugin) go to the same
replica, so its prefix cache already holds their system prompt and examples.
The ring has many virtual nodes per replica, so keys spread evenly and adding or
removing one replica of N moves only about 1/N of the keys. The hash is blake2b,
not Python's ``hash()``, so every process and every run routes a key alike.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Sequence

VIRTUAL_NODES = 160


def _point(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class HashRing:
    """A consistent-hash ring over replica names."""

    def __init__(self, nodes: Sequence[str], virtual_nodes: int = VIRTUAL_NODES) -> None:
        if not nodes:
            raise ValueError("a hash ring needs at least one node")
        self.nodes = tuple(dict.fromkeys(nodes))
        ring = sorted(
            (_point(f"{node}#{i}"), node) for node in self.nodes for i in range(virtual_nodes)
        )
        self._points = [point for point, _ in ring]
        self._owners = [node for _, node in ring]

    def preference(self, key: str) -> tuple[str, ...]:
        """Every node, in the order ``key`` should try them: its owner first."""
        start = bisect.bisect(self._points, _point(key))
        order: dict[str, None] = {}
        for i in range(len(self._owners)):
            order.setdefault(self._owners[(start + i) % len(self._owners)], None)
            if len(order) == len(self.nodes):
                break
        return tuple(order)


class Router:
    """Orders replicas for a request: by the ring for an affinity, else in rotation."""

    def __init__(self, nodes: Sequence[str]) -> None:
        self._ring = HashRing(nodes)
        self._turn = itertools.count()

    def order(self, affinity: str | None) -> tuple[str, ...]:
        """The replicas to try, best first."""
        if affinity is not None:
            return self._ring.preference(affinity)
        nodes = self._ring.nodes
        start = next(self._turn) % len(nodes)
        return nodes[start:] + nodes[:start]
