"""bake's stderr as the user sees it, and as bakeguard reads it: copied byte for byte to ours
(through a pseudo-terminal when ours is one, so bake still draws its live progress) and
its tail kept for the error lines a failed push leaves."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import termios
import threading
from collections.abc import Callable

TYPE_CHECKING = False  # typing is not imported before a fast path's bake starts
if TYPE_CHECKING:
    from typing import Any


class Tail:
    """The last 64 KiB of what bake wrote to stderr (read for known registry rejections)."""

    def __init__(self, limit: int = 65536) -> None:
        self.buf = bytearray()
        self.limit = limit

    def __call__(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > self.limit:
            del self.buf[: len(self.buf) - self.limit]

    def text(self) -> str:
        return self.buf.decode(errors="replace")


class Tee:
    """bake's stderr, copied byte for byte to ours and to a callback. When our stderr is a
    terminal, bake writes to a pseudo-terminal of the same size (output processing off), so it
    still sees a TTY and draws its live progress exactly as it would; otherwise a pipe."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self.sink = sink
        self.out = sys.stderr.fileno()
        self.pty = os.isatty(self.out)
        self._old_winch: Any = None
        if self.pty:
            self.read_fd, self.child_fd = os.openpty()
            attrs = termios.tcgetattr(self.child_fd)
            attrs[1] &= ~termios.OPOST  # no \n -> \r\n here: the real terminal does it
            termios.tcsetattr(self.child_fd, termios.TCSANOW, attrs)
            self._copy_size()
            if threading.current_thread() is threading.main_thread():
                self._old_winch = signal.signal(signal.SIGWINCH, lambda *_: self._copy_size())
        else:
            self.read_fd, self.child_fd = os.pipe()
        self.thread = threading.Thread(target=self._pump, daemon=True)

    def _copy_size(self) -> None:
        with contextlib.suppress(OSError):
            size = fcntl.ioctl(self.out, termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(self.child_fd, termios.TIOCSWINSZ, size)

    def start(self) -> None:
        os.close(self.child_fd)  # the child holds its own copy
        self.child_fd = -1
        self.thread.start()

    def _pump(self) -> None:
        while True:
            try:
                data = os.read(self.read_fd, 65536)
            except OSError:  # EIO: the pty's other side closed
                break
            if not data:
                break
            with contextlib.suppress(OSError):
                os.write(self.out, data)
            self.sink(data)

    def close(self) -> None:
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        for fd in (self.read_fd, self.child_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.read_fd = self.child_fd = -1
        if self._old_winch is not None:
            signal.signal(signal.SIGWINCH, self._old_winch)
