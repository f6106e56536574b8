"""bake's reading of HCL bodies (buildx bake/hclparser/hclparser.go Parse, bake.go's Target
and Group blocks): all files merged into one body; `variable`, `function` and top-level
`NAME = value` attributes define names (a later file's definition wins); every `target` and
`group` block is evaluated, a `matrix` target once per combination under its `name`; blocks
of one name merge in file order (targets) or replace each other (groups)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import product
from typing import NamedTuple

from bakeguard.hcl.access import checked
from bakeguard.hcl.calls import UserFunction
from bakeguard.hcl.evaluate import Evaluator
from bakeguard.hcl.library import LIBRARY
from bakeguard.hcl.syntax import Block, Body, Expr, TupleExpr, keyword
from bakeguard.hcl.target import FIELDS, Target
from bakeguard.hcl.values import EvalError, HclError, Value, to_bool, to_str
from bakeguard.hcl.variables import Variable, from_body, resolve

BUILTINS = ("BAKE_CMD_CONTEXT", "BAKE_LOCAL_PLATFORM")
_BLOCKS = ("target", "group")
_LABEL = re.compile(r"^[a-zA-Z0-9_-]+$")


class Config:
    """What the files define: targets merged by name (first appearance keeps its place) and
    groups (a later group of a name replaces an earlier one)."""

    def __init__(self) -> None:
        self.targets: dict[str, Target] = {}
        self.groups: dict[str, list[str]] = {}

    def add_target(self, t: Target) -> None:
        if t.name in self.targets:
            self.targets[t.name].merge(t)
        else:
            self.targets[t.name] = t


class Inputs(NamedTuple):
    """Where values come from besides the files: --var, the environment (unless
    BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP), bake's built-in variables."""

    variables: Mapping[str, str]
    environ: Mapping[str, str]
    env_lookup: bool
    builtins: Mapping[str, str]

    def get(self, name: str) -> str | None:
        if name in self.variables:
            return self.variables[name]
        return self.environ.get(name) if self.env_lookup else None


class Instance(NamedTuple):
    """One evaluation of a block: its name and the matrix values it sees."""

    block: Block
    name: str
    scope: Mapping[str, Value]


class Reader:
    """bake's parser over the merged bodies of the HCL/JSON files; the evaluator's Globals."""

    def __init__(self, bodies: list[Body], inputs: Inputs) -> None:
        self.inputs = inputs
        self.vars: dict[str, Variable] = {}
        self.attrs: dict[str, Expr] = {}
        self.funcs: dict[str, Block] = {}
        self.blocks: list[Block] = []
        for body in bodies:
            self._collect(body)
        self.values: dict[str, Value] = {}
        self.busy: set[object] = set()
        self.instances: dict[int, list[Instance]] = {}
        self.done: dict[tuple[int, str], Target] = {}
        self.ev = Evaluator(self, LIBRARY)

    def _collect(self, body: Body) -> None:
        reserved = {*_BLOCKS, *BUILTINS}
        for b in body.blocks:
            name = b.labels[0] if len(b.labels) == 1 else None
            if b.type in _BLOCKS:
                if name is None:
                    raise HclError(f"invalid block label: {list(b.labels)}", b.at)
                self.blocks.append(b)
            elif b.type == "variable" and name and name not in reserved:
                self.vars[name] = from_body(name, b.at, b.body)
            elif b.type == "function" and name and name not in reserved:
                self.funcs[name] = b
        for a in body.attributes:
            if a.name not in reserved and a.name != "function":
                self.attrs[a.name] = a.expr

    # ------------------------------------------------------------ Globals

    def lookup(self, name: str, at: str) -> Value:
        if name in self.inputs.builtins:
            return self.inputs.builtins[name]
        if name in self.values:
            return self.values[name]
        if name not in self.vars and name not in self.attrs:
            raise HclError(f"Unknown variable: there is no variable named {name!r}", at)
        if name in self.busy:
            raise HclError(f"variable cycle not allowed for {name}", at)
        self.busy.add(name)
        try:
            if name in self.attrs:
                value = self.ev.eval(self.attrs[name], {})
            else:
                json_free = f"{name}_JSON" not in self.vars
                json_free &= f"{name}_JSON" not in self.inputs.builtins
                value = resolve(
                    self.vars[name], lambda e: self.ev.eval(e, {}), self.inputs.get, json_free
                )
        finally:
            self.busy.discard(name)
        self.values[name] = value
        return value

    def function(self, name: str) -> UserFunction | None:
        block = self.funcs.get(name)
        if block is None:
            return None
        params, result = block.body.attribute("params"), block.body.attribute("result")
        variadic = block.body.attribute("variadic_params")
        if params is None or result is None:
            what = "params" if params is None else "result"
            raise HclError(f"empty {what} not allowed for {name}", block.at)
        items = params.expr.items if isinstance(params.expr, TupleExpr) else ()
        names = [keyword(x) for x in items]
        extra = keyword(variadic.expr) if variadic is not None else None
        if not isinstance(params.expr, TupleExpr) or None in names or (variadic and not extra):
            raise HclError("Invalid param element: each parameter name must be an identifier",
                           params.at)  # fmt: skip
        return UserFunction(name, tuple(str(n) for n in names), extra, result.expr)

    def block(self, kind: str, name: str, attr: str | None, at: str) -> Value:
        """`target.NAME(.ATTR)`: the last block of that name, as bake stores each block's value
        under its name (a field the block leaves unset is null)."""
        found: Target | None = None
        for b in self.blocks:
            if b.type == kind:
                for inst in self.instances_of(b):
                    if inst.name == name:
                        found = self.evaluate(inst)
        if found is None:
            raise HclError(f"Unsupported attribute: there is no {kind} named {name!r}", at)
        obj = found.as_value(kind)
        if attr is None:
            return obj
        if attr not in obj:
            raise HclError(f"Unsupported attribute: a {kind} has no attribute {attr!r}", at)
        return obj[attr]

    # ------------------------------------------------------------ blocks

    def instances_of(self, b: Block) -> list[Instance]:
        """The block's names, one per matrix combination (resolveBlockNames)."""
        if id(b) in self.instances:
            return self.instances[id(b)]
        matrix, name_attr = b.body.attribute("matrix"), b.body.attribute("name")
        if b.type == "group" and (matrix or name_attr):
            raise HclError(f"{'matrix' if matrix else 'name'} is not supported for groups", b.at)
        if name_attr is not None and matrix is None:
            raise HclError("name requires matrix", name_attr.at)
        scopes: list[dict[str, Value]] = [{}]
        if matrix is not None:
            value = self.ev.eval(matrix.expr, {})
            if not isinstance(value, dict):
                raise HclError("matrix must be a map", matrix.at)
            for key, items in value.items():
                if not isinstance(items, list):
                    raise HclError("matrix values must be a list", matrix.at)
                scopes = [{**s, key: x} for s, x in product(scopes, items)]
        out: list[Instance] = []
        for scope in scopes:
            name = b.labels[0]
            if name_attr is not None:
                name = checked(to_str, self.ev.eval(name_attr.expr, scope), name_attr.at)
            if not _LABEL.match(name):
                raise HclError(f"Invalid name {name!r}: only [a-zA-Z0-9_-]+ are allowed", b.at)
            if any(o.name == name for o in out):
                raise HclError(f"duplicate name {name!r}", b.at)
            out.append(Instance(b, name, scope))
        self.instances[id(b)] = out
        return out

    def evaluate(self, inst: Instance) -> Target:
        key = (id(inst.block), inst.name)
        if key in self.done:
            return self.done[key]
        if key in self.busy:
            raise HclError(f"reference cycle not allowed for {inst.block.type}.{inst.name}",
                           inst.block.at)  # fmt: skip
        self.busy.add(key)
        try:
            t = Target(inst.name, at=inst.block.at)
            for a in inst.block.body.attributes:
                known = ("targets", "description") if inst.block.type == "group" else FIELDS
                if a.name not in known:
                    continue  # name, matrix; bake ignores an attribute it does not know
                value = self.ev.eval(a.expr, inst.scope)
                try:
                    t.set(a.name, value)
                except EvalError as e:
                    raise HclError(f"Unsuitable value for {a.name}: {e}", a.at) from e
        finally:
            self.busy.discard(key)
        self.done[key] = t
        return t

    def config(self, into: Config) -> Config:
        """Every block evaluated, in file order, into `into` (which may hold compose's
        targets already); a matrix block's label becomes a group of its names."""
        for name, v in self.vars.items():
            self.lookup(name, v.at)
        self.validate()
        renamed: dict[str, list[str]] = {}
        for b in self.blocks:
            insts = self.instances_of(b)
            for inst in insts:
                t = self.evaluate(inst)
                if b.type == "group":
                    into.groups[inst.name] = t.lists.get("targets", [])
                else:
                    into.add_target(t.copy())
            if [i.name for i in insts] != [b.labels[0]]:
                names = renamed.setdefault(b.labels[0], [])
                names += [i.name for i in insts if i.name not in names]
        for label, names in renamed.items():
            into.groups.setdefault(label, names)  # (a group of that name comes first)
        return into

    def validate(self) -> None:
        for v in self.vars.values():
            for check in v.validations:
                cond, msg = check.attribute("condition"), check.attribute("error_message")
                if cond is None:
                    continue
                result = self.ev.eval(cond.expr, {})
                if result is None:
                    raise HclError("Invalid condition result: the condition is null", cond.at)
                if not checked(to_bool, result, cond.at):
                    text = self.ev.eval(msg.expr, {}) if msg is not None else None
                    why = text if isinstance(text, str) else f"variable {v.name}"
                    raise HclError(f"Validation failed: {why}", cond.at)
