"""A typed model of HCL's syntax tree: what python-hcl2's grammar parses a bake file into,
as small immutable nodes the evaluator walks (NamedTuples: a dataclass costs several times as
much to define, on every start). Every node knows where it is (`at`: ``file:line``), so every
refusal and error names the file and line it came from."""

from __future__ import annotations

from typing import NamedTuple, TypeAlias

from bakeguard.hcl.values import Value


class Literal(NamedTuple):
    at: str
    value: Value


class Interp(NamedTuple):
    expr: Expr


class TIf(NamedTuple):
    """`%{ if COND }...%{ else }...%{ endif }` in a template."""

    cond: Expr
    then: tuple[Part, ...]
    other: tuple[Part, ...]


class TFor(NamedTuple):
    """`%{ for K, V in COLL }...%{ endfor }` in a template."""

    key: str | None
    value: str
    coll: Expr
    body: tuple[Part, ...]


Part: TypeAlias = str | Interp | TIf | TFor


class Template(NamedTuple):
    at: str
    parts: tuple[Part, ...]


class Var(NamedTuple):
    at: str
    name: str


class GetAttr(NamedTuple):
    at: str
    obj: Expr
    name: str


class Index(NamedTuple):
    at: str
    obj: Expr
    key: Expr


class Splat(NamedTuple):
    """`obj.*.a.b` (attr=True: only the attribute steps apply to each element, an index ends
    the splat) or `obj[*].a[0]` (every step applies to each element)."""

    at: str
    obj: Expr
    steps: tuple[str | Expr, ...]  # an attribute name, or an index expression
    attr: bool


class Call(NamedTuple):
    at: str
    name: str
    args: tuple[Expr, ...]
    expand: bool  # f(list...)


class TupleExpr(NamedTuple):
    at: str
    items: tuple[Expr, ...]


class ObjectExpr(NamedTuple):
    at: str
    items: tuple[tuple[Expr, Expr], ...]


class Paren(NamedTuple):
    at: str
    expr: Expr


class Unary(NamedTuple):
    at: str
    op: str
    operand: Expr


class Binary(NamedTuple):
    at: str
    op: str
    left: Expr
    right: Expr


class Conditional(NamedTuple):
    at: str
    cond: Expr
    then: Expr
    other: Expr


class ForExpr(NamedTuple):
    at: str
    key_var: str | None
    value_var: str
    coll: Expr
    key: Expr | None  # the object form's key (`{for ...: K => V}`), None for a tuple
    value: Expr
    cond: Expr | None
    group: bool  # `V...`: values of one key grouped into a tuple


Expr: TypeAlias = (
    Literal
    | Template
    | Var
    | GetAttr
    | Index
    | Splat
    | Call
    | TupleExpr
    | ObjectExpr
    | Paren
    | Unary
    | Binary
    | Conditional
    | ForExpr
)


class Attribute(NamedTuple):
    at: str
    name: str
    expr: Expr


class Block(NamedTuple):
    at: str
    type: str
    labels: tuple[str, ...]
    body: Body


class Body(NamedTuple):
    attributes: tuple[Attribute, ...]
    blocks: tuple[Block, ...]

    def attribute(self, name: str) -> Attribute | None:
        found = None
        for a in self.attributes:
            if a.name == name:
                found = a
        return found


def keyword(expr: Expr) -> str | None:
    """The bare name an expression is (`params = [a, b]`), as hcl.ExprAsKeyword reads it."""
    if isinstance(expr, Var):
        return expr.name
    if isinstance(expr, Template) and len(expr.parts) == 1 and isinstance(expr.parts[0], str):
        return expr.parts[0]  # JSON: "a"
    return None
