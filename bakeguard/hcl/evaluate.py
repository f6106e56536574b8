"""Evaluating syntax.py's expressions as HCL (hashicorp/hcl/v2 hclsyntax) does under bake:
operators convert their operands as cty does, `&&`/`||` let a controlling side win even when
the other fails, a conditional's branches unify their types, a template of one interpolation
keeps its value's type, `for` walks an object in key order.

Names resolve through `Globals` (bake's variables, top-level attributes, `target.NAME.ATTR`),
calls through the function library (funcs*.py) and the file's own `function` blocks."""

from __future__ import annotations

from decimal import Decimal

from bakeguard.hcl.access import checked, get_attr, index
from bakeguard.hcl.calls import Calls, Scope
from bakeguard.hcl.syntax import (
    Binary,
    Call,
    Conditional,
    Expr,
    ForExpr,
    GetAttr,
    Index,
    Interp,
    Literal,
    ObjectExpr,
    Paren,
    Part,
    Splat,
    Template,
    TIf,
    TupleExpr,
    Unary,
    Var,
)
from bakeguard.hcl.values import (
    EvalError,
    HclError,
    List,
    Map,
    Refusal,
    Value,
    arith,
    equal,
    kind,
    like,
    to_bool,
    to_num,
    to_str,
)

BLOCK_KINDS = ("target", "group")
_COMPARE = {"<", ">", "<=", ">="}


class Evaluator(Calls):
    """An expression's value, as bake's HCL gives it (function calls: calls.Calls)."""

    def eval(self, e: Expr, scope: Scope) -> Value:
        if isinstance(e, Literal):
            return e.value
        if isinstance(e, Template):
            return self.template(e, scope)
        if isinstance(e, Var):
            if e.name in scope:
                return scope[e.name]
            return self.globals.lookup(e.name, e.at)
        if isinstance(e, (GetAttr, Index)):
            return self.traverse(e, scope)
        if isinstance(e, Splat):
            return self.splat(e, scope)
        if isinstance(e, Call):
            return self.call(e, scope)
        if isinstance(e, TupleExpr):
            return [self.eval(x, scope) for x in e.items]
        if isinstance(e, ObjectExpr):
            return self.object(e, scope)
        if isinstance(e, Paren):
            return self.eval(e.expr, scope)
        if isinstance(e, Unary):
            return self.unary(e, scope)
        if isinstance(e, Binary):
            return self.binary(e, scope)
        if isinstance(e, Conditional):
            return self.conditional(e, scope)
        return self.for_expr(e, scope)

    # ------------------------------------------------------------- templates

    def template(self, e: Template, scope: Scope) -> Value:
        if len(e.parts) == 1 and isinstance(e.parts[0], Interp):
            return self.eval(e.parts[0].expr, scope)  # "${x}" is x, of x's own type
        return "".join(self.part(p, scope, e.at) for p in e.parts)

    def part(self, p: Part, scope: Scope, at: str) -> str:
        if isinstance(p, str):
            return p
        if isinstance(p, Interp):
            v = self.eval(p.expr, scope)
            if v is None:
                raise HclError("Invalid template interpolation value: the value is null", at)
            return checked(to_str, v, at)
        if isinstance(p, TIf):
            chosen = p.then if checked(to_bool, self.eval(p.cond, scope), at) else p.other
            return "".join(self.part(x, scope, at) for x in chosen)
        return "".join(
            "".join(self.part(x, {**scope, **loop}, at) for x in p.body)
            for loop in self.loop(p.key, p.value, self.eval(p.coll, scope), at)
        )

    def loop(self, key: str | None, value: str, coll: Value, at: str) -> list[dict[str, Value]]:
        if isinstance(coll, list):
            pairs: list[tuple[Value, Value]] = [(Decimal(i), v) for i, v in enumerate(coll)]
        elif isinstance(coll, dict):
            pairs = [(k, coll[k]) for k in sorted(coll)]
        else:
            raise HclError(f"Iteration over non-iterable value {kind(coll)}", at)
        return [{value: v, **({key: k} if key else {})} for k, v in pairs]

    # ------------------------------------------------------------- traversal

    def traverse(self, e: GetAttr | Index, scope: Scope) -> Value:
        ref = self.block_ref(e, scope)
        if ref is not None:
            return ref
        obj = self.eval(e.obj, scope)
        if isinstance(e, GetAttr):
            return get_attr(obj, e.name, e.at)
        return index(obj, self.eval(e.key, scope), e.at)

    def block_ref(self, e: GetAttr | Index, scope: Scope) -> Value | None:
        """`target.NAME.ATTR` / `target.NAME` (or `target["NAME"]`): another block's value."""
        chain: list[GetAttr | Index] = [e]
        while isinstance(chain[-1].obj, (GetAttr, Index)):
            chain.append(chain[-1].obj)
        root = chain[-1].obj
        if not (isinstance(root, Var) and root.name in BLOCK_KINDS and root.name not in scope):
            return None
        steps = [self.step_name(s, scope) for s in reversed(chain)]
        value = self.globals.block(root.name, steps[0], steps[1] if len(steps) > 1 else None, e.at)
        for s, name in zip(list(reversed(chain))[2:], steps[2:], strict=True):
            value = get_attr(value, name, s.at)
        return value

    def step_name(self, s: GetAttr | Index, scope: Scope) -> str:
        return s.name if isinstance(s, GetAttr) else checked(to_str, self.eval(s.key, scope), s.at)

    def splat(self, e: Splat, scope: Scope) -> Value:
        obj = self.eval(e.obj, scope)
        items = [] if obj is None else obj if isinstance(obj, list) else [obj]
        steps = list(e.steps)
        after: list[str | Expr] = []
        if e.attr:  # `.*`: an index ends the splat and applies to its result
            cut = next((i for i, s in enumerate(steps) if not isinstance(s, str)), len(steps))
            steps, after = steps[:cut], steps[cut:]
        out = [self.steps(item, steps, scope, e.at) for item in items]
        result = List(out) if isinstance(obj, List) else out  # (a list's splat is a list)
        return self.steps(result, after, scope, e.at)

    def steps(self, v: Value, steps: list[str | Expr], scope: Scope, at: str) -> Value:
        for s in steps:
            v = get_attr(v, s, at) if isinstance(s, str) else index(v, self.eval(s, scope), at)
        return v

    def object(self, e: ObjectExpr, scope: Scope) -> Value:
        out: dict[str, Value] = {}
        for k, v in e.items:
            key = self.eval(k, scope)
            if key is None:
                raise HclError("Null value as an object key", e.at)
            out[checked(to_str, key, e.at)] = self.eval(v, scope)
        return out

    # ------------------------------------------------------------- operators

    def unary(self, e: Unary, scope: Scope) -> Value:
        v = self.eval(e.operand, scope)
        if e.op == "!":
            return not checked(to_bool, v, e.at)
        return -checked(to_num, v, e.at)

    def binary(self, e: Binary, scope: Scope) -> Value:
        if e.op in ("&&", "||"):
            return self.logical(e, scope)
        left, right = self.eval(e.left, scope), self.eval(e.right, scope)
        if e.op == "==":
            return equal(left, right)
        if e.op == "!=":
            return not equal(left, right)
        a, b = checked(to_num, left, e.at), checked(to_num, right, e.at)
        if e.op in _COMPARE:
            return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[e.op]
        try:
            return arith(e.op, a, b)
        except EvalError as err:
            raise HclError(f"Error during operation {e.op}: {err}", e.at) from err

    def logical(self, e: Binary, scope: Scope) -> Value:
        """hcl's short circuit: both sides are evaluated; a side that decides the result (a
        false for &&, a true for ||) wins even when the other side failed."""
        sides: list[bool | Exception] = []
        for side in (e.left, e.right):
            try:
                sides.append(checked(to_bool, self.eval(side, scope), e.at))
            except (HclError, EvalError) as err:
                sides.append(err)
        decisive = e.op == "||"
        if any(s is decisive for s in sides):
            return decisive
        for s in sides:
            if isinstance(s, Exception):
                raise s
        return not decisive

    def conditional(self, e: Conditional, scope: Scope) -> Value:
        chosen, other = (e.then, e.other)
        if not checked(to_bool, self.eval(e.cond, scope), e.at):
            chosen, other = other, chosen
        value = self.eval(chosen, scope)
        if not isinstance(value, (bool, Decimal, list, dict)) or isinstance(value, (List, Map)):
            return value
        try:  # hcl unifies the branches' types: the other branch's may convert this one's
            unified = self.eval(other, scope)
        except (Refusal, EvalError):
            return value
        if isinstance(unified, str) and isinstance(value, (bool, Decimal)):
            return to_str(value)  # a string there makes this a string
        if isinstance(unified, List) and isinstance(value, list):
            return like(unified, value)  # a list there makes this tuple a list
        if isinstance(unified, Map) and isinstance(value, dict):
            return Map(value)
        return value

    def for_expr(self, e: ForExpr, scope: Scope) -> Value:
        coll = self.eval(e.coll, scope)
        if coll is None:
            raise HclError("Iteration over null value", e.at)
        items: list[tuple[Value, Value]] = []
        for loop in self.loop(e.key_var, e.value_var, coll, e.at):
            inner = {**scope, **loop}
            if e.cond is not None and not checked(to_bool, self.eval(e.cond, inner), e.at):
                continue
            key = self.eval(e.key, inner) if e.key is not None else None
            items.append((key, self.eval(e.value, inner)))
        if e.key is None:
            return [v for _, v in items]
        out: dict[str, Value] = {}
        for k, v in items:
            name = checked(to_str, k, e.at)
            if e.group:
                grouped = out.setdefault(name, [])
                assert isinstance(grouped, list)
                grouped.append(v)
            elif name in out:
                raise HclError(f"Duplicate object key {name!r} (use `...` to group)", e.at)
            else:
                out[name] = v
        return out
