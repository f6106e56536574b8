"""Task: work in a thread of its own, its result (or its exception) read later."""

from __future__ import annotations

import threading

import pytest

from bakeguard.tasks import Task


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
