"""bake's string functions (go-cty's stdlib string.go, string_replace.go, regexp.go,
format.go, and bake's own sanitize/basename/dirname/homedir in bake/hclparser/stdlib.go)."""

from __future__ import annotations

import os
import posixpath
import re
import unicodedata
from collections.abc import Callable, Iterator
from decimal import Decimal

from bakeguard.hcl.calls import Spec
from bakeguard.hcl.textfmt import format_values
from bakeguard.hcl.values import EvalError, List, Value, to_list, to_num, to_str

FUNCS: dict[str, Spec] = {}


def _s(args: list[Value], i: int) -> str:
    if args[i] is None:
        raise EvalError(f"argument {i + 1} must not be null")
    return to_str(args[i])


def graphemes(s: str) -> list[str]:
    """A string's characters as cty counts them (grapheme clusters), approximated by code
    points with their combining marks and joiners attached."""
    out: list[str] = []
    for ch in s:
        if out and (
            unicodedata.combining(ch) or ch in "\u200d\ufe0f" or out[-1].endswith("\u200d")
        ):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def _join(a: list[Value]) -> Value:
    sep = _s(a, 0)
    items: list[str] = []
    for lst in a[1:]:
        for v in to_list(lst) if not isinstance(lst, dict) else list(lst.values()):
            if v is None:
                raise EvalError("cannot join a null element")
            items.append(to_str(v))
    return sep.join(items)


def _split(a: list[Value]) -> Value:
    sep, s = _s(a, 0), _s(a, 1)
    return List(list(s) if sep == "" else s.split(sep))


def _simple(c: str, case: Callable[[str], str]) -> str:
    """Go's one-rune case mapping (unicode.ToUpper/ToLower): where Unicode maps a character
    to several (ß -> SS), Go keeps it; İ lowers to i."""
    mapped = case(c)
    if len(mapped) == 1:
        return mapped
    return "i" if c == "\u0130" and case is str.lower else c


def _separator(c: str) -> bool:
    """Go strings.Title's isSeparator: ASCII other than letters, digits and `_`; beyond ASCII,
    only spaces (letters, digits and punctuation there do not start a word)."""
    if c <= "\x7f":
        return not (c.isalnum() or c == "_")
    if unicodedata.category(c)[0] == "L" or unicodedata.category(c) == "Nd":
        return False
    return c.isspace()


def _title(a: list[Value]) -> Value:
    """Go's strings.Title: a letter after a separator starts a word and is title-cased."""
    out, prev = [], " "
    for ch in _s(a, 0):
        out.append(_simple(ch, str.title) if _separator(prev) else ch)
        prev = ch
    return "".join(out)


def _substr(a: list[Value]) -> Value:
    chars = graphemes(_s(a, 0))
    offset, length = int(to_num(a[1])), int(to_num(a[2]))
    if offset < 0:
        offset = max(len(chars) + offset, 0)
    if offset > len(chars):
        raise EvalError("offset is out of range")
    end = len(chars) if length < 0 else min(offset + length, len(chars))
    return "".join(chars[offset:end])


def _trim(a: list[Value]) -> Value:
    s, cut = _s(a, 0), _s(a, 1)
    return s.strip(cut) if cut else s


def _indent(a: list[Value]) -> Value:
    spaces = to_num(a[0])
    return _s(a, 1).replace("\n", "\n" + " " * int(spaces))


def _regex_compile(pattern: str) -> re.Pattern[str]:
    """An RE2 pattern (Go regexp) in Python's re: the same syntax for what bake files use;
    RE2-only constructs Python lacks are refused by re itself."""
    translated = re.sub(r"\\z", r"\\Z", pattern)
    translated = re.sub(r"\(\?P?<([A-Za-z_]\w*)>", r"(?P<\1>", translated)
    try:
        compiled = re.compile(translated)
    except re.error as e:
        raise EvalError(f"invalid regexp pattern {pattern!r}: {e}") from e
    if compiled.groupindex and len(compiled.groupindex) != compiled.groups:
        raise EvalError("invalid regexp pattern: cannot mix both named and unnamed capture groups")
    return compiled


def _match_value(m: re.Match[str], pattern: re.Pattern[str]) -> Value:
    """A match as cty's regex returns it: the string, a tuple of the groups or an object of
    the named groups; a group that took no part in the match is null."""
    if pattern.groupindex:
        return {k: v for k, v in m.groupdict().items()}
    if pattern.groups:
        return list(m.groups())
    return m.group(0)


def _go_matches(pattern: re.Pattern[str], s: str) -> Iterator[re.Match[str]]:
    """Matches as Go's FindAll/ReplaceAll take them: an empty match right where the previous
    match ended is skipped (Python's re takes it: re.sub("a*", "b", "aaa") is "bb", Go's
    "b")."""
    last = -1
    for m in pattern.finditer(s):
        if m.start() == m.end() == last:
            continue
        last = m.end()
        yield m


def _regex(a: list[Value]) -> Value:
    pattern = _regex_compile(_s(a, 0))
    m = pattern.search(_s(a, 1))
    if m is None:
        raise EvalError("pattern did not match any part of the given string")
    return _match_value(m, pattern)


def _regexall(a: list[Value]) -> Value:
    pattern = _regex_compile(_s(a, 0))
    return List(_match_value(m, pattern) for m in _go_matches(pattern, _s(a, 1)))


_GO_TEMPLATE = re.compile(r"\$(\$|\{([A-Za-z0-9_]*)\}|([A-Za-z0-9_]+))")


def _regex_replace(a: list[Value]) -> Value:
    """regexp.ReplaceAllString: $1, ${1}, $name, ${name} in the replacement; `$$` a dollar; a
    name that is not a group is empty (as Go's Expand)."""
    s, pattern, repl = _s(a, 0), _regex_compile(_s(a, 1)), _s(a, 2)

    def expand(m: re.Match[str]) -> str:
        def one(t: re.Match[str]) -> str:
            if t.group(1) == "$":
                return "$"
            name = t.group(2) if t.group(2) is not None else t.group(3)
            try:
                return m.group(int(name) if name.isdigit() else name) or ""
            except IndexError:  # (re raises IndexError for an unknown group name too)
                return ""

        return _GO_TEMPLATE.sub(one, repl)

    out, pos = [], 0
    for m in _go_matches(pattern, s):
        out += [s[pos : m.start()], expand(m)]
        pos = m.end()
    return "".join([*out, s[pos:]])


def _sanitize(a: list[Value]) -> Value:
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_" for c in _s(a, 0))


def _basename(a: list[Value]) -> Value:
    p = _s(a, 0)
    if p == "":
        return "."
    stripped = p.rstrip("/")
    return "/" if stripped == "" else stripped.rsplit("/", 1)[-1]


def _dirname(a: list[Value]) -> Value:
    p = _s(a, 0)
    head = p.rsplit("/", 1)[0] + "/" if "/" in p else ""
    return posixpath.normpath(head) if head else "."


def _formatlist(a: list[Value]) -> Value:
    fmt = _s(a, 0)
    lists = [x for x in a[1:] if isinstance(x, list)]
    n = len(lists[0]) if lists else 1
    if any(len(x) != n for x in lists):
        raise EvalError("all list arguments must have the same length")
    return List(
        format_values(fmt, [x[i] if isinstance(x, list) else x for x in a[1:]]) for i in range(n)
    )


FUNCS.update(
    {
        "lower": (1, 1, lambda a: "".join(_simple(c, str.lower) for c in _s(a, 0))),
        "upper": (1, 1, lambda a: "".join(_simple(c, str.upper) for c in _s(a, 0))),
        "trimspace": (1, 1, lambda a: _s(a, 0).strip(" \t\n\r\v\f\u0085\u00a0")),
        "trimprefix": (2, 2, lambda a: _s(a, 0).removeprefix(_s(a, 1))),
        "trimsuffix": (2, 2, lambda a: _s(a, 0).removesuffix(_s(a, 1))),
        "chomp": (1, 1, lambda a: re.sub(r"(?:\r\n?|\n)*\Z", "", _s(a, 0))),
        "strlen": (1, 1, lambda a: Decimal(len(graphemes(_s(a, 0))))),
        "reverse": (1, 1, lambda a: "".join(reversed(graphemes(_s(a, 0))))),
        "replace": (3, 3, lambda a: _s(a, 0).replace(_s(a, 1), _s(a, 2))),
        "title": (1, 1, _title),
        "trim": (2, 2, _trim),
        "split": (2, 2, _split),
        "regex": (2, 2, _regex),
        "regexall": (2, 2, _regexall),
        "regex_replace": (3, 3, _regex_replace),
        "sanitize": (1, 1, _sanitize),
        "basename": (1, 1, _basename),
        "dirname": (1, 1, _dirname),
        "join": (2, None, _join),
        "substr": (3, 3, _substr),
        "indent": (2, 2, _indent),
        "format": (1, None, lambda a: format_values(_s(a, 0), a[1:])),
        "formatlist": (1, None, _formatlist),
        "homedir": (0, 0, lambda a: os.path.expanduser("~")),
    }
)
