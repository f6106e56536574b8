"""bake's `variable` blocks (buildx bake/hclparser/hclparser.go resolveValue): a default,
converted to the variable's `type`; an environment value (or `--var`) overrides it, read as the
type says: `NAME_JSON` as JSON for a typed variable, CSV for a list/set/tuple/map, the
primitive for bool/number/string; an untyped variable takes the default's primitive type."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import NamedTuple

from bakeguard.hcl.syntax import Attribute, Body, Expr
from bakeguard.hcl.target import csv_fields
from bakeguard.hcl.types import Type, convert
from bakeguard.hcl.types import parse as parse_type
from bakeguard.hcl.values import EvalError, HclError, List, Map, Value, as_set, kind, number

_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_DECIMAL = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class Variable(NamedTuple):
    name: str
    at: str
    default: Attribute | None
    type: Expr | None
    validations: tuple[Body, ...]


def from_body(name: str, at: str, body: Body) -> Variable:
    checks = tuple(b.body for b in body.blocks if b.type == "validation")
    typ = body.attribute("type")
    return Variable(name, at, body.attribute("default"), typ.expr if typ else None, checks)


def primitive(name: str, text: str, t: str) -> Value:
    """convertPrimitive: Go's strconv.ParseBool / ParseFloat on an environment value."""
    if t == "string":
        return text
    if t == "bool":
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise EvalError(f'failed to parse {name} as bool: strconv.ParseBool: parsing "{text}"')
    if _DECIMAL.match(text):
        return number(text)
    raise EvalError(f'failed to parse {name} as number: parsing "{text}"')


def from_csv(name: str, text: str, t: Type) -> Value:
    """valueFromCSV: a list/set from CSV fields, a tuple field by field, a map from k:v."""
    fields = csv_fields(text) if text else []
    if t.kind in ("list", "set") and t.elem is not None:
        if not t.elem.primitive:
            raise EvalError(f"unsupported type {t} for CSV specification")
        items = [primitive(name, f, t.elem.kind) for f in fields]
        return as_set(items) if t.kind == "set" else List(items)
    if t.kind == "tuple":
        if len(fields) != len(t.items):
            raise EvalError(f"{t} expects {len(t.items)} elements but only {len(fields)} provided")
        if not all(x.primitive for x in t.items):
            raise EvalError(f"unsupported type {t} for CSV specification")
        return [primitive(name, f, x.kind) for f, x in zip(fields, t.items, strict=True)]
    assert t.elem is not None  # map
    if not t.elem.primitive:
        raise EvalError(f"unsupported type {t} for CSV specification")
    out = Map()
    for f in fields:
        try:  # (csvvalue with ':' for the comma)
            kv = next(csv.reader([f], delimiter=":", strict=True), [])
        except csv.Error as e:
            raise EvalError(f"failed to parse {f} as k/v for variable {name}: {e}") from e
        if len(kv) != 2:
            raise EvalError(f"expected one k/v pair but got {len(kv)} pieces from {f}")
        out[kv[0]] = primitive(name, kv[1], t.elem.kind)
    return out


Lookup = Callable[[str], "str | None"]


def resolve(
    v: Variable, evaluate: Callable[[Expr], Value], lookup: Lookup, json_name_free: bool
) -> Value:
    """The variable's value. `lookup` reads `--var` then the environment; `json_name_free`:
    no variable is itself named NAME_JSON (which would make NAME_JSON its own override)."""
    t = parse_type(v.type) if v.type is not None else None
    typed = t is not None
    env = lookup(v.name)
    is_json = False
    if (env is None or typed) and json_name_free:
        j = lookup(v.name + "_JSON")
        if j is not None:
            env, is_json = j, True
    if v.default is None and env is None:
        return None if typed else ""  # an untyped variable without a value is ""
    value: Value = None
    if v.default is not None:
        value = evaluate(v.default.expr)
        if t is not None:
            try:
                value = convert(value, t)
            except EvalError as e:
                raise HclError(
                    f"invalid type {t} for variable {v.name} default value: {e}", v.default.at
                ) from e
    if env is None:
        return value
    try:
        return _from_env(v, t, env, is_json, value)
    except EvalError as e:
        raise HclError(f"variable {v.name} from the environment: {e}", v.at) from e


def _from_env(v: Variable, t: Type | None, env: str, is_json: bool, value: Value) -> Value:
    if t is not None and is_json:
        try:
            doc = json.loads(env, parse_float=number, parse_int=number)
        except ValueError as e:
            raise EvalError(f"failed to convert variable {v.name} from JSON: {e}") from e
        return convert(doc, t)
    if t is not None and t.csv:
        return from_csv(v.name, env, t)
    if t is not None and t.primitive:
        return primitive(v.name, env, t.kind)
    if t is not None:
        raise EvalError(f"unsupported type {t} for variable {v.name}")
    if v.default is None or value is None:
        return env
    if isinstance(value, (str, bool, Decimal)):
        return primitive(v.name, env, kind(value))
    raise EvalError(f"unsupported type {kind(value)} for variable {v.name}")
