"""bakeguard's own lines, through structlog, on stderr: every line starts with `bakeguard:`
on a console (coloured on a TTY unless NO_COLOR), JSON lines with BAKEGUARD_LOG_FORMAT=json.
bake's own output never passes through here. structlog loads on first use, not on import."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

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


def console_line(level: str, text: str, colour: bool) -> str:
    """One message as the console shows it (structlog's renderer below, and the fast path's
    replay of a cached run's messages, which runs before structlog is loaded)."""
    plain = "bakeguard:"
    first = f"bakeguard: {level}:" if level in ("warning", "error") else plain
    if colour and level in COLOURS:
        first = f"{COLOURS[level]}{first}{RESET}"
        plain = f"{COLOURS[level]}{plain}{RESET}"
    lines = text.splitlines() or [""]
    return "\n".join(
        f"{first if i == 0 else plain} {line}".rstrip() for i, line in enumerate(lines)
    )


class ConsoleRenderer:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, _logger: Any, _name: str, event: MutableMapping[str, Any]) -> str:
        level = str(event.pop("level", "info"))
        text = str(event.pop("event", ""))
        event.pop("timestamp", None)
        extras = " ".join(f"{k}={v}" for k, v in event.items())
        if extras:
            text = f"{text} ({extras})"
        return console_line(level, text, self.colour)


def configure(verbose: bool = False, environ: Mapping[str, str] | None = None) -> None:
    """Console lines (coloured on a TTY unless NO_COLOR), or JSON lines with
    BAKEGUARD_LOG_FORMAT=json or when a CI system is detected."""
    import structlog

    environ = os.environ if environ is None else environ
    fmt = log_format(environ)
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        pre: list[Any] = [
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            lambda _l, _n, e: {"logger": "bakeguard", **e},
        ]
    else:
        renderer = ConsoleRenderer(console_colour(environ))
        pre = [structlog.processors.add_log_level]
    structlog.configure(
        processors=[*pre, renderer],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(10 if verbose else 20),
        cache_logger_on_first_use=False,
    )


def get() -> Any:
    import structlog

    return structlog.get_logger()
