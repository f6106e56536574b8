"""Work started in a thread of its own, its result read later: the probe's docker calls and
`bake --print` beside bakeguard's own start-up; and `map_bounded`, a few threads working
through a list (verification's registry reads).

What concurrent.futures' Future and thread pool did here, without their import: it pulls in
the logging module, work before bake starts on the full path and CPU taken from the bake
that verification's preparation runs beside."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


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

    def done_within(self, seconds: float) -> bool:
        """Whether the task is done, waiting at most `seconds` for it."""
        return self._done.wait(seconds)

    def result(self) -> T:
        """The result, once there; what fn raised is raised here. Waited for in short steps:
        a signal the kernel hands to another thread does not wake a wait on a lock, and its
        Python handler (a Ctrl-C's) runs in this thread only once the wait returns."""
        while not self._done.wait(0.1):
            pass
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[no-any-return]


def map_bounded(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    """[fn(x) for x in items], run by at most `workers` threads at once, in the items' order.
    The first exception fn raised (in the items' order) is raised here, once all are done.
    What is not an Exception (KeyboardInterrupt, docker.Interrupted: a signal, raised in this
    thread) is raised at once: no item is started after it, and the workers still busy are
    left behind (daemon threads, which never hold up the process's exit)."""
    todo = list(items)
    out: list[Any] = [None] * len(todo)
    errors: list[BaseException | None] = [None] * len(todo)
    if not todo:
        return []
    lock = threading.Lock()
    next_i = 0

    def work() -> None:
        nonlocal next_i
        while True:
            with lock:
                i, next_i = next_i, next_i + 1
            if i >= len(todo):
                return
            try:
                out[i] = fn(todo[i])
            except Exception as e:
                errors[i] = e
            except BaseException as e:
                errors[i] = e
                with lock:
                    next_i = len(todo)
                if threading.current_thread() is caller:
                    raise

    caller = threading.current_thread()
    threads = [threading.Thread(target=work, daemon=True) for _ in range(min(workers, len(todo)))]
    for t in threads[1:]:
        t.start()
    work()  # this thread is one of the workers
    for t in threads[1:]:
        t.join()
    for e in errors:
        if e is not None:
            raise e
    return out
