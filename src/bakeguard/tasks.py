"""Work started in a thread of its own, its result read later: the probe's docker calls and
`bake --print` beside bakeguard's own start-up.

What concurrent.futures' Future and thread pool did here, without their import: with the
logging module it pulls in, ~8 ms before bake starts on the full path."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Task(Generic[T]):
    __slots__ = ("_done", "_error", "_value")

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    @classmethod
    def start(cls, fn: Callable[..., T], *args: Any) -> Task[T]:
        """fn(*args) in a daemon thread (one that never holds up the process's exit)."""
        task: Task[T] = cls()

        def run() -> None:
            try:
                task._value = fn(*args)
            except BaseException as e:
                task._error = e
            finally:
                task._done.set()

        threading.Thread(target=run, daemon=True).start()
        return task

    @classmethod
    def of(cls, value: T) -> Task[T]:
        """A task already done, with this result."""
        task: Task[T] = cls()
        task._value = value
        task._done.set()
        return task

    def result(self) -> T:
        """The result, once there; what fn raised is raised here."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[no-any-return]
