"""The answer cache: single flight on a miss, stale-while-refresh within twice the TTL."""

from __future__ import annotations

import asyncio

from santiway_anomaly.api.cache import AnswerCache


def test_concurrent_misses_compute_once() -> None:
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return calls

    async def main() -> list[int]:
        cache = AnswerCache[int](ttl=10, max_entries=10)
        return await asyncio.gather(*(cache.get_or_compute("k", compute) for _ in range(20)))

    assert asyncio.run(main()) == [1] * 20 and calls == 1


def test_stale_answer_is_served_while_one_refresh_runs() -> None:
    calls = 0

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)
        return calls

    async def main() -> None:
        cache = AnswerCache[int](ttl=0.5, max_entries=10)
        assert await cache.lookup("k", compute) == (1, True)
        assert await cache.lookup("k", compute) == (1, True)  # within the TTL: no new computation
        await asyncio.sleep(0.6)  # expired, but younger than twice the TTL
        stale = await asyncio.gather(*(cache.lookup("k", compute) for _ in range(5)))
        assert stale == [(1, False)] * 5  # answered at once, not waiting for the store
        await asyncio.sleep(0.1)  # the single background refresh has finished
        assert await cache.lookup("k", compute) == (2, True) and calls == 2
        await asyncio.sleep(1.2)  # older than twice the TTL: computed again before answering
        assert await cache.lookup("k", compute) == (3, True)

    asyncio.run(main())


def test_failed_refresh_keeps_the_stale_answer() -> None:
    outcomes = iter([1, RuntimeError("store down"), 3])

    async def compute() -> int:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def main() -> None:
        cache = AnswerCache[int](ttl=0.5, max_entries=10)
        assert await cache.lookup("k", compute) == (1, True)
        await asyncio.sleep(0.6)
        assert await cache.lookup("k", compute) == (1, False)  # refresh starts and fails
        await asyncio.sleep(0.01)
        assert await cache.lookup("k", compute) == (1, False)  # still the stale answer; retried
        await asyncio.sleep(0.01)
        assert await cache.lookup("k", compute) == (3, True)

    asyncio.run(main())


def test_answers_are_bounded_by_bytes_and_dropped_when_too_old_to_serve() -> None:
    async def main() -> None:
        cache = AnswerCache[bytes](ttl=0.2, max_entries=100, max_bytes=10_000, size=len)
        for i in range(30):
            await cache.get_or_compute(("page", i), lambda i=i: _answer(i))
        assert 0 < cache.held_bytes <= 10_000
        # the newest answers stay; the oldest went first
        assert await cache.get_or_compute(("page", 29), lambda: _answer(-1)) == _answer_bytes(29)
        assert await cache.get_or_compute(("page", 0), lambda: _answer(-1)) == _answer_bytes(-1)
        await asyncio.sleep(0.45)  # past twice the TTL: no longer served, not even stale
        await cache.get_or_compute("new", lambda: _answer(1))
        assert cache.held_bytes == 1000

    asyncio.run(main())


def _answer_bytes(i: int) -> bytes:
    return str(i).encode().ljust(1000, b" ")


async def _answer(i: int) -> bytes:
    return _answer_bytes(i)
