"""Task: work in a thread of its own, its result (or its exception) read later; map_bounded:
a few threads through a list (verification reads 50 tags with at most 16 at once)."""

from __future__ import annotations

import threading
import time

import pytest

from bakeguard.tasks import Task, map_bounded


def test_result_waits_for_the_work() -> None:
    gate = threading.Event()

    def work(a: int, b: int) -> int:
        gate.wait(5)
        return a + b

    task = Task.start(work, 2, 3)
    gate.set()
    assert task.result() == 5
    assert task.result() == 5  # read again: the same


def test_what_the_work_raised_is_raised_by_result() -> None:
    def fail() -> None:
        raise ValueError("bake --print failed")

    task = Task.start(fail)
    with pytest.raises(ValueError, match="bake --print failed"):
        task.result()


def test_a_done_task() -> None:
    assert Task.of((None, "verification is off")).result() == (None, "verification is off")


def test_map_bounded_keeps_the_order_and_the_bound() -> None:
    lock = threading.Lock()
    running, peak = 0, 0

    def check(i: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01 * (i % 3))  # finishing out of order
        with lock:
            running -= 1
        return i * i

    assert map_bounded(check, range(20), 4) == [i * i for i in range(20)]
    assert 1 < peak <= 4
    assert map_bounded(check, [], 4) == []


def test_map_bounded_raises_the_first_failure_after_all_ran() -> None:
    done: list[int] = []

    def check(i: int) -> int:
        if i in (3, 5):
            raise RuntimeError(f"registry unreachable for tag {i}")
        done.append(i)
        return i

    with pytest.raises(RuntimeError, match="tag 3"):
        map_bounded(check, range(8), 2)
    assert sorted(done) == [0, 1, 2, 4, 6, 7]


def test_map_bounded_raises_an_interrupt_in_the_caller_at_once() -> None:
    """A Ctrl-C (raised in the calling thread by its signal handler) does not wait for the
    workers still busy, and no item starts after it."""
    from bakeguard.interrupts import Interrupted

    release = threading.Event()
    started: list[int] = []

    def check(i: int) -> int:
        started.append(i)
        if threading.current_thread() is threading.main_thread():
            raise Interrupted(130)
        release.wait(5)  # a registry that does not answer
        return i

    t0 = time.monotonic()
    with pytest.raises(Interrupted):
        map_bounded(check, range(6), 2)
    took = time.monotonic() - t0
    release.set()
    assert took < 1
    assert len(started) == 2
