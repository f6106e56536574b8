"""HCL templates: quoted strings, heredocs and JSON strings -> syntax.Template.

A quoted string arrives from the grammar already split into literal runs, interpolations and
flat directive markers (`%{ if }`, `%{ else }`, `%{ endif }`, `%{ for }`, `%{ endfor }`),
nested here. Heredoc bodies and JSON strings arrive as raw text (python-hcl2's grammar keeps a
heredoc as one token; HCL's JSON syntax makes every string a template) and are split here,
each `${...}` expression parsed by the parser (passed in: the parser imports this module)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple, Protocol, TypeAlias

from lark import Token, Tree

from bakeguard.hcl.syntax import Expr, Interp, Part, Template, TFor, TIf
from bakeguard.hcl.values import Refusal

Node = Tree[Token]
# (text, at, filename, line) -> the expression
ParseExpr: TypeAlias = Callable[[str, str, str, int], Expr]
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.S)
_OPEN = re.compile(r"(\$\$\{|%%\{|\$\{|%\{)")


class Marker(NamedTuple):
    """A directive before nesting: `if` (cond), `for` (key, value, coll), else/endif/endfor;
    `~` on either side trims the whitespace of the literal next to it."""

    word: str
    strip_left: bool = False
    strip_right: bool = False
    cond: Expr | None = None
    key: str | None = None
    value: str = ""


Flat: TypeAlias = list[Part | Marker]


class Walker(Protocol):
    filename: str

    def at(self, node: Node | Token) -> str: ...

    def expr(self, node: Node | Token) -> Expr: ...

    def name(self, node: Node | Token) -> str: ...

    def parse_expr(self, text: str, at: str, filename: str, line: int) -> Expr: ...


def _unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        s = m.group(1)
        if s[0] in "uU" and len(s) > 1:
            return chr(int(s[1:], 16))
        return _ESCAPES.get(s, "\\" + s)

    return _ESCAPE.sub(one, text)


def from_string_parts(w: Walker, tree: Node) -> Template:
    flat: Flat = []
    for part in tree.children:
        if not isinstance(part, Tree) or part.data != "string_part":
            continue
        inner = part.children[0]
        if isinstance(inner, Token):
            escaped = inner.type in ("ESCAPED_INTERPOLATION", "ESCAPED_DIRECTIVE")
            flat.append(str(inner)[1:] if escaped else _unescape(str(inner)))  # $${ -> ${
        elif inner.data == "interpolation":
            flat.append(Interp(w.expr(next(k for k in inner.children if isinstance(k, Tree)))))
        else:
            flat.append(_marker(w, inner))
    return Template(w.at(tree), nest(flat, w.at(tree)))


def _marker(w: Walker, tree: Node) -> Marker:
    word = str(tree.data).removeprefix("template_").removesuffix("_start")
    kinds = [k.type for k in tree.children if isinstance(k, Token)]
    left = len(kinds) > 1 and kinds[1] == "STRIP_MARKER"
    right = len(kinds) > 1 and kinds[-2] == "STRIP_MARKER"
    trees = [k for k in tree.children if isinstance(k, Tree)]
    if word == "if":
        return Marker(word, left, right, cond=w.expr(trees[-1]))
    if word == "for":
        names = [w.name(k) for k in trees if k.data == "identifier"]
        key, value = (names[0], names[1]) if len(names) == 2 else (None, names[0])
        return Marker(word, left, right, cond=w.expr(trees[-1]), key=key, value=value)
    return Marker(word, left, right)


def nest(flat: Flat, at: str) -> tuple[Part, ...]:
    items = list(flat)
    for i, m in enumerate(items):  # `~` trims the neighbouring literal
        if not isinstance(m, Marker):
            continue
        if m.strip_left and i > 0 and isinstance(items[i - 1], str):
            items[i - 1] = str(items[i - 1]).rstrip()
        if m.strip_right and i + 1 < len(items) and isinstance(items[i + 1], str):
            items[i + 1] = str(items[i + 1]).lstrip()
    parts, stop, _ = _until(items, at, ())
    if stop is not None:
        raise Refusal(f"template directive %{{ {stop.word} }} without its opening", at)
    return parts


def _until(
    items: Flat, at: str, stops: tuple[str, ...]
) -> tuple[tuple[Part, ...], Marker | None, Flat]:
    """The parts up to the first marker in `stops`: (parts, that marker, what follows it)."""
    out: list[Part] = []
    while items:
        item, items = items[0], items[1:]
        if not isinstance(item, Marker):
            if item != "":
                out.append(item)
            continue
        if item.word in stops:
            return tuple(out), item, items
        if item.word not in ("if", "for") or item.cond is None:
            return tuple(out), item, items  # an else/endif/endfor nobody opened
        closing = ("else", "endif") if item.word == "if" else ("endfor",)
        body, stop, items = _until(items, at, closing)
        other: tuple[Part, ...] = ()
        if stop is not None and stop.word == "else":
            other, stop, items = _until(items, at, ("endif",))
        if stop is None or stop.word != "end" + item.word:
            raise Refusal(f"%{{ {item.word} }} without %{{ end{item.word} }}", at)
        if item.word == "if":
            out.append(TIf(item.cond, body, other))
        else:
            out.append(TFor(item.key, item.value, item.cond, body))
    return tuple(out), None, []


def heredoc(w: Walker, tree: Node, trim: bool) -> Template:
    token = tree.children[0]
    _, _, rest = str(token).partition("\n")
    lines = rest.split("\n")
    while lines and lines[-1].strip() == "":
        lines.pop()
    lines = lines[:-1]  # the closing marker
    if trim:  # <<-: the smallest indentation of a non-blank line goes from every line
        cut = min((len(x) - len(x.lstrip(" \t")) for x in lines if x.strip()), default=0)
        lines = [x[cut:] for x in lines]
    text = "".join(x.rstrip("\r") + "\n" for x in lines)
    line = token.line if isinstance(token, Token) and token.line else 0
    return from_text(text, w.at(tree), w.filename, line + 1, w.parse_expr)


def from_text(text: str, at: str, filename: str, line: int, parse_expr: ParseExpr) -> Template:
    """Raw template text (`a-${b}-%{ if c }d%{ endif }`) split into parts."""
    flat: Flat = []
    pos = 0
    while (m := _OPEN.search(text, pos)) is not None:
        flat.append(text[pos : m.start()])
        if m.group(1) in ("$${", "%%{"):
            flat.append(m.group(1)[1:])
            pos = m.end()
            continue
        end = _closing(text, m.end(), at)
        inner = text[m.end() : end]
        here = f"{filename}:{line + text.count(chr(10), 0, m.start())}"
        if m.group(1) == "${":
            flat.append(Interp(parse_expr(inner.strip("~ \t\n"), here, filename, _line(here))))
        else:
            flat.append(_directive(inner, here, filename, parse_expr))
        pos = end + 1
    flat.append(text[pos:])
    return Template(at, nest(flat, at))


def _line(at: str) -> int:
    return int(at.rsplit(":", 1)[1])


def _closing(text: str, start: int, at: str) -> int:
    """Where the `}` closing an interpolation is (braces and quoted strings skipped)."""
    depth, i, quoted = 0, start, False
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise Refusal("an interpolation `${` without its closing `}`", at)


def _directive(inner: str, at: str, filename: str, parse_expr: ParseExpr) -> Marker:
    left, right = inner.startswith("~"), inner.endswith("~")
    word, _, rest = inner.strip("~").strip().partition(" ")
    if word == "if":
        return Marker(word, left, right, cond=parse_expr(rest.strip(), at, filename, _line(at)))
    if word == "for":
        names, sep, coll = rest.partition(" in ")
        if not sep:
            raise Refusal(f"template directive %{{{inner}}} is not a for", at)
        parts = [n.strip() for n in names.split(",")]
        key, value = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
        cond = parse_expr(coll.strip(), at, filename, _line(at))
        return Marker(word, left, right, cond=cond, key=key, value=value)
    if word in ("else", "endif", "endfor"):
        return Marker(word, left, right)
    raise Refusal(f"template directive %{{{inner}}} is not read offline", at)
