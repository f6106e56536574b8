"""bake's collection and set functions (go-cty's stdlib collection.go, sequence.go, set.go,
general.go; bake's own indexof in bake/hclparser/stdlib.go)."""

from __future__ import annotations

from decimal import Decimal
from itertools import product

from bakeguard.hcl.calls import Spec
from bakeguard.hcl.values import (
    EvalError,
    List,
    Map,
    Set,
    Value,
    arith,
    as_set,
    distinct,
    equal,
    like,
    to_list,
    to_num,
    to_obj,
    to_str,
    unify,
)


def _int(v: Value, what: str = "index") -> int:
    d = to_num(v)
    if d != d.to_integral_value():
        raise EvalError(f"the {what} must be a whole number")
    return int(d)


def _seq(v: Value) -> list[Value]:
    if v is None:
        raise EvalError("a null value where a list is required")
    return to_list(v)


def _flatten(v: Value) -> list[Value]:
    out: list[Value] = []
    for x in _seq(v):
        out += _flatten(x) if isinstance(x, list) else [x]
    return out


def _collection(v: Value) -> list[Value] | dict[str, Value]:
    """A list, tuple, set or map: cty's collection functions refuse objects and strings."""
    if isinstance(v, (list, Map)):
        return v
    raise EvalError("collection must be a list, a map or a tuple")


def _length(a: list[Value]) -> Value:
    return Decimal(len(_collection(a[0])))


def _element(a: list[Value]) -> Value:
    items, i = _seq(a[0]), _int(a[1])
    if not items:
        raise EvalError("cannot use element function with an empty list")
    return items[i % len(items)]  # (a negative index counts from the end, as Go's % + len)


def _index(a: list[Value]) -> Value:
    coll, key = a[0], a[1]
    if isinstance(coll, dict) and not isinstance(coll, Map):
        raise EvalError("collection must be a list, a map or a tuple")
    if isinstance(coll, dict):
        k = to_str(key)
        if k not in coll:
            raise EvalError(f"the given key {k!r} does not identify an element in this collection")
        return coll[k]
    items, i = _seq(coll), _int(key)
    if not 0 <= i < len(items):
        raise EvalError("the given key does not identify an element in this collection value")
    return items[i]


def _hasindex(a: list[Value]) -> Value:
    _collection(a[0])
    try:
        _index(a)
    except EvalError:
        return False
    return True


def _indexof(a: list[Value]) -> Value:
    items = _seq(a[0])
    if not items:
        raise EvalError("cannot search an empty list")
    for i, x in enumerate(items):
        if equal(x, a[1]):
            return Decimal(i)
    raise EvalError("item not found")


def _lookup(a: list[Value]) -> Value:
    m, key = to_obj(a[0]), to_str(a[1])
    if key in m:
        return m[key]
    if len(a) == 3:
        return a[2]
    raise EvalError(f"the given map has no key {key!r}")


def _merge(a: list[Value]) -> Value:
    """Maps merged are a map; with an object among them, an object."""
    out: dict[str, Value] = {}
    for m in a:
        if m is not None:
            out.update(to_obj(m))
    maps = [m for m in a if m is not None]
    return Map(out) if maps and all(isinstance(m, Map) for m in maps) else out


def _zipmap(a: list[Value]) -> Value:
    keys, values = _seq(a[0]), _seq(a[1])
    if len(keys) != len(values):
        raise EvalError("number of keys and values must match")
    out = {to_str(k): v for k, v in zip(keys, values, strict=True)}
    return Map(out) if isinstance(a[1], List) else out  # (a tuple of values: an object)


def _range(a: list[Value]) -> Value:
    nums = [to_num(x) for x in a]
    start, end = (Decimal(0), nums[0]) if len(nums) == 1 else (nums[0], nums[1])
    step = nums[2] if len(nums) == 3 else Decimal(-1 if end < start else 1)
    if step == 0:
        raise EvalError("step must not be zero")
    if (step < 0 and end > start) or (step > 0 and end < start):
        raise EvalError("end must be on the side of start the step moves to")
    out = List()
    v = start
    while (v < end) if step > 0 else (v > end):
        if len(out) >= 1024:
            raise EvalError("more than 1024 values were generated")
        out.append(v)
        v = arith("+", v, step)
    return out


def _slice(a: list[Value]) -> Value:
    items, start, end = _seq(a[0]), _int(a[1]), _int(a[2])
    if start < 0 or end > len(items) or start > end:
        raise EvalError("the slice indices are out of range")
    return like(a[0], items[start:end])


def _chunklist(a: list[Value]) -> Value:
    items, size = _seq(a[0]), _int(a[1], "size")
    if size < 0:
        raise EvalError("the size argument must be positive")
    if size == 0:
        return List([List(items)])
    return List(List(items[i : i + size]) for i in range(0, len(items), size))


def _coalesce(a: list[Value]) -> Value:
    items = unify(list(a))
    for v in items:
        if v is not None:
            return v
    raise EvalError("no non-null arguments")


def _sort(a: list[Value]) -> Value:
    items = _seq(a[0])
    if any(x is None for x in items):
        raise EvalError("given list element is null; a null value cannot be sorted")
    strings = sorted((to_str(x) for x in items), key=_bytes)
    return List(strings)


def _contains(a: list[Value]) -> Value:
    return any(equal(x, a[1]) for x in _seq(a[0]))


def _setop(a: list[Value], op: str) -> Value:
    sets = [as_set(x) for x in a]
    first = sets[0]
    if op == "union":
        return as_set([x for s in sets for x in s])
    if op == "intersection":
        return Set(x for x in first if all(any(equal(x, y) for y in s) for s in sets[1:]))
    if op == "subtract":
        return Set(x for x in first if not any(equal(x, y) for y in sets[1]))
    counts = [x for s in sets for x in s]  # symmetric difference: in an odd number of sets
    return as_set([x for x in counts if sum(equal(x, y) for y in counts) % 2 == 1])


def _setproduct(a: list[Value]) -> Value:
    lists = [_seq(x) for x in a]
    if len(lists) < 2:
        raise EvalError("at least two arguments are required")
    combos: list[Value] = [list[Value](combo) for combo in product(*lists)]
    return as_set(combos) if all(isinstance(x, Set) for x in a) else List(combos)


def _bytes(s: str) -> bytes:
    """Strings in cty's order: by their UTF-8 bytes."""
    return s.encode()


def _keys(a: list[Value]) -> Value:
    names = sorted(to_obj(a[0]), key=_bytes)
    return List(names) if isinstance(a[0], Map) else list[Value](names)


def _values(a: list[Value]) -> Value:
    m = to_obj(a[0])
    values = [m[k] for k in sorted(m, key=_bytes)]
    return List(values) if isinstance(m, Map) else values


def _concat(a: list[Value]) -> Value:
    """Lists concatenated are a list; with a tuple among them, a tuple."""
    items = [x for lst in a for x in _seq(lst)]
    return List(items) if all(isinstance(x, List) for x in a) else items


FUNCS: dict[str, Spec] = {
    "length": (1, 1, _length),
    "element": (2, 2, _element),
    "index": (2, 2, _index),
    "hasindex": (2, 2, _hasindex),
    "indexof": (2, 2, _indexof),
    "lookup": (3, 3, _lookup),
    "merge": (0, None, _merge),
    "zipmap": (2, 2, _zipmap),
    "range": (1, 3, _range),
    "slice": (3, 3, _slice),
    "chunklist": (2, 2, _chunklist),
    "coalesce": (1, None, _coalesce),
    "coalescelist": (1, None, lambda a: next((x for x in a if _seq(x)), [])),
    "compact": (1, 1, lambda a: List(x for x in _seq(a[0]) if x is not None and to_str(x) != "")),
    "concat": (1, None, _concat),
    "contains": (2, 2, _contains),
    "distinct": (1, 1, lambda a: List(distinct(unify(_seq(a[0]))))),
    "flatten": (1, 1, lambda a: _flatten(a[0])),
    "reverselist": (1, 1, lambda a: like(a[0], list(reversed(_seq(a[0]))))),
    "sort": (1, 1, _sort),
    "keys": (1, 1, _keys),
    "values": (1, 1, _values),
    "setproduct": (1, None, _setproduct),
    "sethaselement": (2, 2, lambda a: any(equal(x, a[1]) for x in as_set(a[0]))),
    "setunion": (1, None, lambda a: _setop(a, "union")),
    "setintersection": (1, None, lambda a: _setop(a, "intersection")),
    "setsubtract": (2, 2, lambda a: _setop(a, "subtract")),
    "setsymmetricdifference": (1, None, lambda a: _setop(a, "symmetric")),
}
