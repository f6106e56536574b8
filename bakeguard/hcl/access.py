"""Reading into a value as hcl's traversals do (`obj.name`, `obj[key]`), and cty's
conversions with the file and line of the expression that needed them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bakeguard.hcl.values import EvalError, HclError, Value, kind, short, to_num, to_str

T = TypeVar("T")


def checked(fn: Callable[[Value], T], v: Value, at: str) -> T:
    """fn(v), a conversion's error as bake's own error at `at`."""
    try:
        return fn(v)
    except EvalError as err:
        raise HclError(str(err), at) from err


def get_attr(obj: Value, name: str, at: str) -> Value:
    if isinstance(obj, dict):
        if name not in obj:
            raise HclError(f"Unsupported attribute: this object has no attribute {name!r}", at)
        return obj[name]
    if obj is None:
        raise HclError(f"Attempt to get attribute {name!r} from a null value", at)
    raise HclError(f"Unsupported attribute {name!r} on a {kind(obj)}", at)


def index(obj: Value, key: Value, at: str) -> Value:
    if isinstance(obj, list):
        n = checked(to_num, key, at)
        if n != n.to_integral_value() or not 0 <= n < len(obj):
            raise HclError(f"Invalid index {short(key)} for a list of {len(obj)}", at)
        return obj[int(n)]
    if isinstance(obj, dict):
        k = checked(to_str, key, at)
        if k not in obj:
            raise HclError(f"Invalid index: no element {k!r} in this collection", at)
        return obj[k]
    if obj is None:
        raise HclError("Attempt to index a null value", at)
    raise HclError(f"Invalid index: a {kind(obj)} cannot be indexed", at)
