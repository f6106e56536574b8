"""bake's number, bool, encoding, hash and UUID functions (go-cty's stdlib number.go,
bool.go, general.go, json.go, csv.go; go-cty-funcs' encoding, crypto and uuid packages).

bcrypt() draws a random salt, rsadecrypt() needs a private key bake reads, byteslen() and
bytesslice() take a value no bake expression makes: those four are refused, by name."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import math
import urllib.parse
import uuid
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

from bakeguard.hcl.calls import Spec
from bakeguard.hcl.textfmt import json_encode
from bakeguard.hcl.values import (
    EvalError,
    List,
    Refusal,
    Value,
    arith,
    equal,
    number,
    to_bool,
    to_num,
    to_str,
)


def _n(a: list[Value], i: int) -> Decimal:
    if a[i] is None:
        raise EvalError(f"argument {i + 1} must not be null")
    return to_num(a[i])


def _s(a: list[Value], i: int) -> str:
    if a[i] is None:
        raise EvalError(f"argument {i + 1} must not be null")
    return to_str(a[i])


def _whole(a: list[Value], i: int) -> Decimal:
    d = _n(a, i)
    if d != d.to_integral_value() or abs(d) >= 2**63:
        raise EvalError(
            "value must be a whole number, between -9223372036854775808 and 9223372036854775807"
        )
    return d


def _float(x: float) -> Decimal:
    if math.isnan(x) or math.isinf(x):
        raise EvalError("the result is not a finite number")
    return number(repr(x))


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parseint(a: list[Value]) -> Value:
    text, base = _s(a, 0), int(_n(a, 1))
    if not 2 <= base <= 62:
        raise EvalError("base must be a whole number between 2 and 62, inclusive")
    digits = text.lstrip("+-")
    # big.Int.SetString: an optional sign, then digits of the base only (no 0x, no _)
    alphabet = _DIGITS[:base] if base > 36 else _DIGITS[:base].lower() + _DIGITS[10:base].upper()
    if not digits or text[:2] in ("+-", "-+", "++", "--") or any(c not in alphabet for c in digits):
        raise EvalError(f"cannot parse {text!r} as a base {base} integer")
    value = 0
    for c in digits:
        value = value * base + (_DIGITS.index(c) if base > 36 else int(c, 36))
    return Decimal(-value if text.startswith("-") else value)


def _log(a: list[Value]) -> Value:
    num, base = float(_n(a, 0)), float(_n(a, 1))
    try:
        return _float(math.log(num) / math.log(base))
    except (ValueError, ZeroDivisionError) as e:
        raise EvalError(f"log: {e}") from e


def _pow(a: list[Value]) -> Value:
    try:
        return _float(math.pow(float(_n(a, 0)), float(_n(a, 1))))
    except (OverflowError, ValueError) as e:
        raise EvalError(f"pow: {e}") from e


def _base64decode(a: list[Value]) -> Value:
    try:
        return base64.b64decode(_s(a, 0), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as e:
        raise EvalError(f"failed to decode base64 data: {e}") from e


def _jsondecode(a: list[Value]) -> Value:
    try:
        doc: Value = json.loads(_s(a, 0), parse_float=number, parse_int=number)
    except ValueError as e:
        raise EvalError(f"invalid JSON: {e}") from e
    return doc


def _csvdecode(a: list[Value]) -> Value:
    rows = list(csv.reader(io.StringIO(_s(a, 0)), strict=True))
    if not rows:
        raise EvalError("missing header line")
    head = rows[0]
    out = List()
    for row in rows[1:]:
        if len(row) != len(head):
            raise EvalError("wrong number of fields")
        out.append(dict(zip(head, row, strict=True)))
    return out


def _uuidv5(a: list[Value]) -> Value:
    names = {"dns": uuid.NAMESPACE_DNS, "url": uuid.NAMESPACE_URL}
    names |= {"oid": uuid.NAMESPACE_OID, "x500": uuid.NAMESPACE_X500}
    ns = _s(a, 0)
    try:
        space = names[ns] if ns in names else uuid.UUID(ns)
    except ValueError as e:
        raise EvalError(f"uuidv5() doesn't support namespace {ns}") from e
    return str(uuid.uuid5(space, _s(a, 1)))


def _refused(name: str, why: str) -> Spec:
    def fn(a: list[Value]) -> Value:
        raise Refusal(f"{name}(): {why}, which the offline reading does not do")

    return (0, None, fn)


def _digest(name: str) -> Spec:
    return (1, 1, lambda a: hashlib.new(name, _s(a, 0).encode()).hexdigest())


FUNCS: dict[str, Spec] = {
    "absolute": (1, 1, lambda a: abs(_n(a, 0))),
    "add": (2, 2, lambda a: arith("+", _n(a, 0), _n(a, 1))),
    "subtract": (2, 2, lambda a: arith("-", _n(a, 0), _n(a, 1))),
    "multiply": (2, 2, lambda a: arith("*", _n(a, 0), _n(a, 1))),
    "divide": (2, 2, lambda a: arith("/", _n(a, 0), _n(a, 1))),
    "modulo": (2, 2, lambda a: arith("%", _n(a, 0), _n(a, 1))),
    "negate": (1, 1, lambda a: -_n(a, 0)),
    "ceil": (1, 1, lambda a: _n(a, 0).to_integral_value(ROUND_CEILING)),
    "floor": (1, 1, lambda a: _n(a, 0).to_integral_value(ROUND_FLOOR)),
    "int": (1, 1, lambda a: _n(a, 0).to_integral_value(ROUND_DOWN)),
    "signum": (1, 1, lambda a: Decimal((_whole(a, 0) > 0) - (_whole(a, 0) < 0))),
    "max": (1, None, lambda a: max(_n(a, i) for i in range(len(a)))),
    "min": (1, None, lambda a: min(_n(a, i) for i in range(len(a)))),
    "parseint": (2, 2, _parseint),
    "log": (2, 2, _log),
    "pow": (2, 2, _pow),
    "greaterthan": (2, 2, lambda a: _n(a, 0) > _n(a, 1)),
    "greaterthanorequalto": (2, 2, lambda a: _n(a, 0) >= _n(a, 1)),
    "lessthan": (2, 2, lambda a: _n(a, 0) < _n(a, 1)),
    "lessthanorequalto": (2, 2, lambda a: _n(a, 0) <= _n(a, 1)),
    "and": (2, 2, lambda a: to_bool(a[0]) and to_bool(a[1])),
    "or": (2, 2, lambda a: to_bool(a[0]) or to_bool(a[1])),
    "not": (1, 1, lambda a: not to_bool(a[0])),
    "equal": (2, 2, lambda a: equal(a[0], a[1])),
    "notequal": (2, 2, lambda a: not equal(a[0], a[1])),
    "base64encode": (1, 1, lambda a: base64.b64encode(_s(a, 0).encode()).decode()),
    "base64decode": (1, 1, _base64decode),
    "urlencode": (1, 1, lambda a: urllib.parse.quote_plus(_s(a, 0), safe="")),
    "jsonencode": (1, 1, lambda a: json_encode(a[0])),
    "jsondecode": (1, 1, _jsondecode),
    "csvdecode": (1, 1, _csvdecode),
    "md5": _digest("md5"),
    "sha1": _digest("sha1"),
    "sha256": _digest("sha256"),
    "sha512": _digest("sha512"),
    "uuidv4": (0, 0, lambda a: str(uuid.uuid4())),
    "uuidv5": (2, 2, _uuidv5),
    "bcrypt": _refused("bcrypt", "a hash with a random salt, different on every run"),
    "rsadecrypt": _refused("rsadecrypt", "decrypting with a private key"),
    "byteslen": _refused("byteslen", "a bytes value (no bake expression makes one)"),
    "bytesslice": _refused("bytesslice", "a bytes value (no bake expression makes one)"),
}
