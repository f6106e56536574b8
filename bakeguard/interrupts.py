"""A run ended by a signal: bake's signals are forwarded to it (bakeguard.docker), and during
bakeguard's own waits (verification) they end the wait at once; either way the run exits
with the shell's code for the signal and writes its report first."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from bakeguard.errors import EXIT_INTERRUPTED

TYPE_CHECKING = False  # typing is not imported before a fast path's bake starts
if TYPE_CHECKING:
    from types import FrameType

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(BaseException):
    """Raised after bake was stopped by a signal bakeguard received and forwarded, or by a
    signal during verification (signals_interrupt). Like KeyboardInterrupt, not an
    Exception: what handles errors (a retry, a worker's list of failures) lets it through."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code

    @classmethod
    def by(cls, signum: int) -> Interrupted:
        """Ended by this signal: 130 for Ctrl-C, as shells report it; 128+N for the others."""
        return cls(EXIT_INTERRUPTED if signum == signal.SIGINT else 128 + signum)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """Within: SIGINT, SIGTERM and SIGHUP raise Interrupted (130, 143, 129) in the main
    thread, wherever it waits (a socket, a join, a sleep), rather than Python's defaults
    (a KeyboardInterrupt that a worker loop might hold, or death by SIGTERM with no report).
    Elsewhere than in the main thread, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted.by(signum)

    previous = {s: signal.signal(s, interrupt) for s in FORWARDED}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
