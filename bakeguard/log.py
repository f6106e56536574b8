"""bakeguard's own lines, on stderr: every line starts with `bakeguard:` on a console
(coloured on a TTY unless NO_COLOR); JSON lines through structlog with
BAKEGUARD_LOG_FORMAT=json or under CI. bake's own output never passes through here.

This is the edge every message passes: a message is one line (a str) or several (a
sequence of str), and whatever is not printable in a line, a newline included, is escaped
(bakeguard.text), so text read from a file or a registry can neither drive the terminal nor
forge a line (a `::error` workflow command, a `bakeguard: verify ... OK`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from bakeguard.text import lines_of, visible

TYPE_CHECKING = False  # typing is not imported before a fast path's bake starts
if TYPE_CHECKING:
    from typing import Any

    from bakeguard.text import Lines

COLOURS = {"warning": "\x1b[33m", "error": "\x1b[31m", "debug": "\x1b[2m"}
RESET = "\x1b[0m"


def log_format(environ: Mapping[str, str]) -> str:
    fmt = environ.get("BAKEGUARD_LOG_FORMAT", "").lower()
    if fmt in ("json", "console"):
        return fmt
    from bakeguard.ci import system

    return "json" if system(environ) else "console"


def console_colour(environ: Mapping[str, str]) -> bool:
    return sys.stderr.isatty() and "NO_COLOR" not in environ


def console_line(level: str, message: Lines, colour: bool) -> str:
    """One message as the console shows it (the Console logger below, and the fast path's
    replay of a cached run's messages): each of its lines visible, after `bakeguard:`."""
    plain = "bakeguard:"
    first = f"bakeguard: {level}:" if level in ("warning", "error") else plain
    if colour and level in COLOURS:
        first = f"{COLOURS[level]}{first}{RESET}"
        plain = f"{COLOURS[level]}{plain}{RESET}"
    return "\n".join(
        f"{first if i == 0 else plain} {line}".rstrip() for i, line in enumerate(lines_of(message))
    )


def _with_extras(message: Lines, extras: Mapping[str, Any]) -> Lines:
    """structlog-style keyword values, after the message's first line."""
    if not extras:
        return message
    lines = [message] if isinstance(message, str) else list(message)
    said = " ".join(f"{k}={v}" for k, v in extras.items())
    return [f"{lines[0] if lines else ''} ({said})", *lines[1:]]


class _Levels:
    """debug/info/warning/error over one `_emit`: the two loggers differ only in how a
    message is written (and whether debug lines are kept here or by structlog's filter)."""

    keeps_debug = True

    def _emit(self, level: str, event: Lines, extras: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def debug(self, event: Lines, **extras: Any) -> None:
        if self.keeps_debug:
            self._emit("debug", event, extras)

    def info(self, event: Lines, **extras: Any) -> None:
        self._emit("info", event, extras)

    def warning(self, event: Lines, **extras: Any) -> None:
        self._emit("warning", event, extras)

    def error(self, event: Lines, **extras: Any) -> None:
        self._emit("error", event, extras)


class Console(_Levels):
    """The console logger: the lines above, written at once. structlog (JSON lines, for CI
    and BAKEGUARD_LOG_FORMAT=json) is not loaded for it: importing structlog (whose stdlib
    module loads asyncio) is more work than a guarded push on a developer's machine should
    do beside bake."""

    def __init__(self, verbose: bool, colour: bool) -> None:
        self.keeps_debug, self.colour = verbose, colour

    def _emit(self, level: str, event: Lines, extras: Mapping[str, Any]) -> None:
        line = console_line(level, _with_extras(event, extras), self.colour)
        print(line, file=sys.stderr, flush=True)


class Json(_Levels):
    """The JSON logger (structlog): one object per message, its lines joined by newlines
    (which JSON escapes), each line and each keyword value visible."""

    def __init__(self, logger: Any) -> None:
        self.logger = logger

    def _emit(self, level: str, event: Lines, extras: Mapping[str, Any]) -> None:
        kept = {k: visible(v) if isinstance(v, str) else v for k, v in extras.items()}
        getattr(self.logger, level)("\n".join(lines_of(event)), **kept)


_console: Console | None = None
_verbose = False


def verbose() -> bool:
    """Was debug logging asked for (--guard-verbose)?"""
    return _verbose


def configure(verbose: bool = False, environ: Mapping[str, str] | None = None) -> None:
    """Console lines (coloured on a TTY unless NO_COLOR), or JSON lines through structlog
    with BAKEGUARD_LOG_FORMAT=json or when a CI system is detected."""
    global _console, _verbose
    _verbose = verbose
    environ = os.environ if environ is None else environ
    if log_format(environ) == "console":
        _console = Console(verbose, console_colour(environ))
        return
    _console = None
    import structlog

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            lambda _l, _n, e: {"logger": "bakeguard", **e},
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(10 if verbose else 20),
        cache_logger_on_first_use=False,
    )


def get() -> Console | Json:
    if _console is not None:
        return _console
    import structlog

    return Json(structlog.get_logger())
