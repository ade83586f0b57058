"""Concurrent calls share round trips, and one bad item fails only its own caller."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from storage.batching import Coalescer, padded, power_of_two_parts


class Doubler:
    """A batch operation that records each batch it was given and refuses negative numbers."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    async def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await asyncio.sleep(0)  # a round trip: others queue up meanwhile
        if any(item < 0 for item in items):
            raise ValueError("negative")
        return [item * 2 for item in items]


async def test_calls_arriving_together_share_one_batch_in_order() -> None:
    run = Doubler()
    coalescer = Coalescer(run, max_batch=100)
    results = await asyncio.gather(*(coalescer.submit(n) for n in range(10)))
    assert results == [n * 2 for n in range(10)]
    assert run.batches == [list(range(10))]  # one round trip for all ten


async def test_batches_are_capped() -> None:
    run = Doubler()
    coalescer = Coalescer(run, max_batch=4)
    await asyncio.gather(*(coalescer.submit(n) for n in range(9)))
    assert all(len(batch) <= 4 for batch in run.batches)
    assert sorted(n for batch in run.batches for n in batch) == list(range(9))


async def test_a_bad_item_fails_only_its_caller() -> None:
    coalescer = Coalescer(Doubler(), max_batch=100)
    outcomes = await asyncio.gather(*(coalescer.submit(n) for n in (1, 2, -3, 4)), return_exceptions=True)
    assert outcomes[:2] == [2, 4] and outcomes[3] == 8
    assert isinstance(outcomes[2], ValueError)


async def test_a_caller_that_gives_up_does_not_cancel_the_others() -> None:
    run = Doubler()
    coalescer = Coalescer(run, max_batch=100)
    first = asyncio.ensure_future(coalescer.submit(1))
    others = [asyncio.ensure_future(coalescer.submit(n)) for n in (2, 3)]
    await asyncio.sleep(0)
    first.cancel()
    assert await asyncio.gather(*others) == [4, 6]
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_batches_in_flight_together_overlap_up_to_the_limit() -> None:
    release = asyncio.Event()
    started: list[list[int]] = []
    running, most = 0, 0

    async def slow(items: Sequence[int]) -> list[int]:
        nonlocal running, most
        started.append(list(items))
        running += 1
        most = max(most, running)
        await release.wait()  # a round trip that takes a while: more calls come meanwhile
        running -= 1
        return [item * 2 for item in items]

    coalescer = Coalescer(slow, max_batch=100, in_flight=2)
    calls = [asyncio.ensure_future(coalescer.submit(1))]
    await asyncio.sleep(0)
    calls += [asyncio.ensure_future(coalescer.submit(n)) for n in (2, 3)]
    await asyncio.sleep(0)
    calls += [asyncio.ensure_future(coalescer.submit(n)) for n in (4, 5)]
    await asyncio.sleep(0)
    assert started == [[1], [2, 3]]  # the second batch went without waiting; the third waits its turn
    release.set()
    assert await asyncio.gather(*calls) == [2, 4, 6, 8, 10]
    assert started == [[1], [2, 3], [4, 5]] and most == 2


async def test_a_second_batch_waits_until_enough_calls_wait_for_it() -> None:
    release = asyncio.Event()
    started: list[list[int]] = []

    async def slow(items: Sequence[int]) -> list[int]:
        started.append(list(items))
        await release.wait()
        return [item * 2 for item in items]

    coalescer = Coalescer(slow, max_batch=100, in_flight=2, overlap_from=3)
    calls = [asyncio.ensure_future(coalescer.submit(1))]
    await asyncio.sleep(0)
    calls += [asyncio.ensure_future(coalescer.submit(n)) for n in (2, 3)]
    await asyncio.sleep(0)  # the calls are queued
    await asyncio.sleep(0)  # and a batch started for them would have begun
    assert started == [[1]]  # two waiting: they wait for the running batch
    calls.append(asyncio.ensure_future(coalescer.submit(4)))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert started == [[1], [2, 3, 4]]  # three waiting: a second batch goes beside the first
    release.set()
    assert await asyncio.gather(*calls) == [2, 4, 6, 8]


def test_an_in_list_is_padded_to_a_power_of_two_with_values_it_already_has() -> None:
    lengths = {len(padded(range(size))) for size in range(1, 101)}
    assert lengths == {1, 2, 4, 8, 16, 32, 64, 128}
    assert padded([]) == [] and padded(["a", "b", "c"]) == ["a", "b", "c", "c"]


def test_rows_are_split_into_parts_of_power_of_two_lengths_in_their_order() -> None:
    rows = list(range(100))
    parts = power_of_two_parts(rows)
    assert [len(part) for part in parts] == [64, 32, 4]
    assert [row for part in parts for row in part] == rows
    assert power_of_two_parts([]) == [] and power_of_two_parts([7]) == [[7]]
