"""Text from outside bakeguard (its cache files, the registries, the user's files, other
tools' errors) made safe to print to a terminal or a CI log: every character that is not
printable (control characters and newlines, ESC, C1 controls, Unicode line separators and
format characters such as bidi overrides, lone surrogates) is shown as its Python escape
(`\\x1b`, `\\n`, `\\u2028`), so such text can neither drive the terminal nor start a line of
its own (a forged `::error` workflow command, a fake `bakeguard: verify ... OK`).

The edges apply it to everything they write (the logger, ci.py's annotations and step
summary, the commands' printed lines): a message of several lines is a sequence of lines,
and a newline inside one of them is data, escaped. Standard library only, no `re`: the
fast paths' console lines go through it before bake starts."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported before a fast path's bake starts
if TYPE_CHECKING:
    from collections.abc import Sequence

    # one line, or the lines of one message (each escaped on its own)
    Lines = str | Sequence[str]


def visible(text: str) -> str:
    """`text` with every character that is not printable shown as its escape (one line)."""
    if text.isprintable():  # (the usual case, at C speed)
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(c: str) -> str:
    return repr(c)[1:-1]  # '\x1b' -> \x1b, '\n' -> \n, '\u2028' -> \u2028 (never a quote)


def one_line(text: str, limit: int = 500) -> str:
    """`visible(text)`, at most `limit` characters (cut with an ellipsis)."""
    shown = visible(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def lines_of(message: Lines) -> list[str]:
    """The lines of a message (a str is one line), each visible."""
    items = [message] if isinstance(message, str) else list(message)
    return [visible(str(x)) for x in items] or [""]


def is_one_line(text: str, limit: int = 500) -> bool:
    """Printable as it is: no character to escape, at most `limit` characters."""
    return text.isprintable() and len(text) <= limit


def emit(line: str) -> None:
    """One line of a command's own output on stdout (`--guard-doctor`, `--guard-plan`, ...),
    visible: what it shows from files and registries cannot start a line of its own."""
    print(visible(line))
