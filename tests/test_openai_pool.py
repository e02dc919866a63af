"""The replica pool: routing by affinity, failover, breakers, backpressure."""

from __future__ import annotations

import collections

import httpx
import pytest

from musekit.engine.openai.pool import EndpointPool
from musekit.engine.openai.routing import HashRing, Router
from musekit.errors import EngineUnavailable
from musekit.settings import OpenAISettings

URLS = [f"http://10.0.0.{i}:8000/v1" for i in range(1, 5)]
KEYS = [f"conversation-{i}" for i in range(4000)]


def test_a_key_always_routes_to_the_same_replica_in_every_ring() -> None:
    first, second = HashRing(URLS), HashRing(list(reversed(URLS)))
    assert all(first.preference(k) == second.preference(k) for k in KEYS[:200])


def test_preference_lists_every_replica_once() -> None:
    ring = HashRing(URLS)
    for key in KEYS[:200]:
        assert sorted(ring.preference(key)) == sorted(URLS)


def test_keys_spread_evenly_over_replicas() -> None:
    ring = HashRing(URLS)
    owners = collections.Counter(ring.preference(k)[0] for k in KEYS)
    share = len(KEYS) / len(URLS)
    assert set(owners) == set(URLS)
    assert all(0.75 * share <= n <= 1.25 * share for n in owners.values()), owners


def test_adding_a_replica_moves_only_its_share_of_keys() -> None:
    before, after = HashRing(URLS), HashRing([*URLS, "http://10.0.0.9:8000/v1"])
    moved = [k for k in KEYS if before.preference(k)[0] != after.preference(k)[0]]
    assert all(after.preference(k)[0] == "http://10.0.0.9:8000/v1" for k in moved)
    assert 0.12 * len(KEYS) <= len(moved) <= 0.28 * len(KEYS)  # about 1/5


def test_removing_a_replica_moves_only_its_own_keys() -> None:
    before, after = HashRing(URLS), HashRing(URLS[1:])
    moved = [k for k in KEYS if before.preference(k)[0] != after.preference(k)[0]]
    assert all(before.preference(k)[0] == URLS[0] for k in moved)
    assert all(after.preference(k)[0] == before.preference(k)[1] for k in moved)


def test_requests_without_affinity_take_turns() -> None:
    router = Router(URLS)
    firsts = [router.order(None)[0] for _ in range(8)]
    assert firsts == URLS + URLS


async def test_failover_skips_excluded_replicas_then_gives_up() -> None:
    async with httpx.AsyncClient() as client:
        pool = EndpointPool(OpenAISettings(base_urls=URLS), client)
        tried: set[str] = set()
        for _ in URLS:
            endpoint = await pool.acquire("conversation-1", frozenset(tried))
            assert endpoint.base_url not in tried
            tried.add(endpoint.base_url)
        with pytest.raises(EngineUnavailable, match="tried 4 replicas"):
            await pool.acquire("conversation-1", frozenset(tried))
