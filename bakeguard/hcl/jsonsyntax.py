"""A bake definition in HCL's JSON syntax (docker-bake.json) -> syntax.Body, as hcl/json
reads it under bake's schema: `variable`, `function`, `target` and `group` are blocks
(`{"target": {"app": {...}}}`, or a list of such objects), any other top-level key an
attribute; every string is a template (`"${TAG}"`). Lines are kept for the messages, which is
why the document is read here rather than with json.loads."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from bakeguard.hcl.parser import parse_expression
from bakeguard.hcl.syntax import Attribute, Block, Body, Expr, Literal, ObjectExpr, TupleExpr
from bakeguard.hcl.template import from_text
from bakeguard.hcl.values import Refusal, Value, number

BLOCKS = ("variable", "function", "target", "group")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"')
_WS = re.compile(r"[ \t\n\r]*")


@dataclass
class Node:
    """A JSON value with the line it starts on: an object (pairs), an array (items) or a
    scalar (value)."""

    line: int
    kind: str = "scalar"
    value: Value = None
    pairs: list[tuple[str, Node]] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)


class _Reader:
    def __init__(self, text: str, filename: str) -> None:
        self.text, self.filename = text, filename

    def line(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def fail(self, what: str, pos: int) -> Refusal:
        return Refusal(f"not valid JSON: {what}", f"{self.filename}:{self.line(pos)}")

    def skip(self, pos: int) -> int:
        m = _WS.match(self.text, pos)
        return m.end() if m else pos

    def value(self, pos: int) -> tuple[Node, int]:
        pos = self.skip(pos)
        node = Node(self.line(pos))
        ch = self.text[pos : pos + 1]
        if ch in ("{", "["):
            return self.container(node, pos, "}" if ch == "{" else "]")
        if ch == '"':
            m = _STRING.match(self.text, pos)
            if m is None:
                raise self.fail("a string that does not end, or a bad escape in it", pos)
            node.value = json.loads(m.group(0))
            return node, m.end()
        for word, val in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, pos):
                node.value = val
                return node, pos + len(word)
        m = _NUMBER.match(self.text, pos)
        if m is None or not m.group(0):
            raise self.fail(f"unexpected {ch or 'end of file'!r}", pos)
        node.value = number(m.group(0))
        return node, m.end()

    def container(self, node: Node, pos: int, close: str) -> tuple[Node, int]:
        node.kind = "object" if close == "}" else "array"
        pos = self.skip(pos + 1)
        while not self.text.startswith(close, pos):
            if node.pairs or node.items:
                if not self.text.startswith(",", pos):
                    raise self.fail(f"expected ',' or {close!r}", pos)
                pos = self.skip(pos + 1)
            item, pos = self.value(pos)
            if node.kind == "object":
                if not isinstance(item.value, str) or item.kind != "scalar":
                    raise self.fail("an object key must be a string", pos)
                pos = self.skip(pos)
                if not self.text.startswith(":", pos):
                    raise self.fail("expected ':'", pos)
                value, pos = self.value(pos + 1)
                node.pairs.append((item.value, value))
            else:
                node.items.append(item)
            pos = self.skip(pos)
        return node, pos + 1


def parse(text: str, filename: str) -> Body:
    reader = _Reader(text, filename)
    root, end = reader.value(0)
    if reader.skip(end) != len(text):
        raise reader.fail("extra data after the document", end)
    if root.kind != "object":
        raise Refusal("a JSON bake definition must be an object", f"{filename}:{root.line}")
    return _Builder(filename).body(root, top=True)


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename

    def at(self, n: Node) -> str:
        return f"{self.filename}:{n.line}"

    def body(self, n: Node, top: bool) -> Body:
        attrs: list[Attribute] = []
        blocks: list[Block] = []
        for key, val in n.pairs:
            if key == "//":
                continue  # a comment, in HCL's JSON syntax
            if top and key in BLOCKS:
                blocks += self.blocks(key, val)
            else:
                attrs.append(Attribute(self.at(val), key, self.expr(val)))
        return Body(tuple(attrs), tuple(blocks))

    def blocks(self, kind: str, n: Node) -> list[Block]:
        """`{"NAME": {...}}`, or a list of such objects; a body may itself be a list."""
        out: list[Block] = []
        for group in n.items if n.kind == "array" else [n]:
            if group.kind != "object":
                raise Refusal(f"a JSON `{kind}` must be an object of named blocks", self.at(n))
            for label, body in group.pairs:
                for one in body.items if body.kind == "array" else [body]:
                    if one.kind != "object":
                        raise Refusal(f"the {kind} {label!r} must be an object", self.at(one))
                    out.append(Block(self.at(one), kind, (label,), self.body(one, top=False)))
        return out

    def key(self, k: str, n: Node) -> Expr:
        if "${" in k or "%{" in k:
            return from_text(k, self.at(n), self.filename, n.line, parse_expression)
        return Literal(self.at(n), k)

    def expr(self, n: Node) -> Expr:
        if n.kind == "object":  # (a key is a template too, in HCL's JSON syntax)
            items = [(self.key(k, x), self.expr(x)) for k, x in n.pairs]
            return ObjectExpr(self.at(n), tuple(items))
        if n.kind == "array":
            return TupleExpr(self.at(n), tuple(self.expr(x) for x in n.items))
        if isinstance(n.value, str):
            return from_text(n.value, self.at(n), self.filename, n.line, parse_expression)
        return Literal(self.at(n), n.value)
