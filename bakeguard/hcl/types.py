"""HCL type constraints (`type = list(string)` on a variable, `convert(v, map(number))`), read
as hcl/ext/typeexpr reads them, and cty's conversion of a value to one of them."""

from __future__ import annotations

from typing import NamedTuple, TypeVar

from bakeguard.hcl.syntax import Call, Expr, Literal, ObjectExpr, Template, TupleExpr, keyword
from bakeguard.hcl.values import (
    EvalError,
    List,
    Map,
    Refusal,
    Value,
    as_set,
    kind,
    to_bool,
    to_num,
    to_str,
    unify,
)

T = TypeVar("T")
PRIMITIVES = ("string", "number", "bool")
_COLLECTIONS = ("list", "set", "map")


class Type(NamedTuple):
    kind: str  # string, number, bool, any, list, set, map, tuple, object
    elem: Type | None = None  # list/set/map
    items: tuple[Type, ...] = ()  # tuple
    attrs: tuple[tuple[str, Type, bool], ...] = ()  # object: (name, type, optional)

    @property
    def primitive(self) -> bool:
        return self.kind in PRIMITIVES

    @property
    def csv(self) -> bool:
        """list/set/tuple/map: what bake reads from a CSV value (hclparser.supportedCSVType)."""
        return self.kind in ("list", "set", "tuple", "map")

    def __str__(self) -> str:
        if self.elem is not None:
            return f"{self.kind}({self.elem})"
        if self.kind == "tuple":
            return "tuple([" + ", ".join(str(x) for x in self.items) + "])"
        if self.kind == "object":
            return "object({" + ", ".join(f"{a}={t}" for a, t, _ in self.attrs) + "})"
        return self.kind


ANY = Type("any")


def parse(e: Expr) -> Type:
    word = keyword(e)
    if word in (*PRIMITIVES, "any"):
        return Type(word)
    if word in _COLLECTIONS:  # a bare `list` is list(any), as in hcl's legacy form
        return Type(word, ANY)
    if isinstance(e, Template) and len(e.parts) == 1 and isinstance(e.parts[0], str):
        from bakeguard.hcl.parser import parse_expression  # JSON: "list(string)"

        return parse(parse_expression(e.parts[0], e.at, e.at.rsplit(":", 1)[0], 1))
    if isinstance(e, Call) and len(e.args) == 1:
        if e.name in _COLLECTIONS:
            return Type(e.name, parse(e.args[0]))
        if e.name == "tuple" and isinstance(e.args[0], TupleExpr):
            return Type("tuple", items=tuple(parse(x) for x in e.args[0].items))
        if e.name == "object" and isinstance(e.args[0], ObjectExpr):
            return Type("object", attrs=tuple(_attribute(k, v) for k, v in e.args[0].items))
    raise Refusal("a type constraint the offline reading does not know", e.at)


def _attribute(k: Expr, v: Expr) -> tuple[str, Type, bool]:
    name = keyword(k) or (k.value if isinstance(k, Literal) and isinstance(k.value, str) else None)
    if name is None:
        raise Refusal("an object type attribute without a plain name", k.at)
    if isinstance(v, Call) and v.name == "optional" and v.args:
        return (name, parse(v.args[0]), True)
    return (name, parse(v), False)


def convert(v: Value, t: Type) -> Value:
    """cty's convert.Convert(v, t): a null stays null; an impossible conversion is an error."""
    if v is None or t.kind == "any":
        return v
    if t.kind == "string":
        return to_str(v)
    if t.kind == "number":
        return to_num(v)
    if t.kind == "bool":
        return to_bool(v)
    if t.elem is not None and t.kind in ("list", "set"):
        if not isinstance(v, list):
            raise EvalError(f"{t} required, not {kind(v)}")
        items = [convert(x, t.elem) for x in v]
        items = unify(items) if t.elem.kind == "any" else items
        return as_set(items) if t.kind == "set" else List(items)
    if t.elem is not None:  # map
        if not isinstance(v, dict):
            raise EvalError(f"{t} required, not {kind(v)}")
        out = {k: convert(x, t.elem) for k, x in v.items()}
        if t.elem.kind == "any":
            return Map(zip(out, unify(list(out.values())), strict=True))
        return Map(out)
    if t.kind == "tuple":
        if not isinstance(v, list) or len(v) != len(t.items):
            raise EvalError(f"{t} required, not {kind(v)}")
        return [convert(x, et) for x, et in zip(v, t.items, strict=True)]
    if not isinstance(v, dict):
        raise EvalError(f"{t} required, not {kind(v)}")
    obj: dict[str, Value] = {}
    for attr, attr_type, optional in t.attrs:
        if attr not in v and not optional:
            raise EvalError(f"attribute {attr!r} is required")
        obj[attr] = convert(v.get(attr), attr_type)
    return obj
