"""The values an HCL expression yields, as go-cty (the value system bake's HCL runs on) has
them, in plain Python: null (None), bool, number (Decimal: see PREC), string, tuple (list) and
object (dict); cty's list, set and map, which it tells from tuples and objects, are the List,
Set and Map subclasses.

The conversions are cty's own (cty/convert): a number or bool becomes a string where a string
is wanted, "true"/"false" a bool, a numeric string a number; anything else is an error.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from fractions import Fraction
from typing import TypeAlias

Value: TypeAlias = bool | Decimal | str | list["Value"] | dict[str, "Value"] | None

# cty keeps numbers as 512-bit binary floats (big.Float, rounded to nearest even): a number
# here is the exact decimal of such a float, and prints as big.Float.Text('f', -1) does, the
# shortest decimal that rounds back to it (0.1 + 0.2 is 0.3; 1 - 0.9 is not 0.1)
PREC = 512
CTX = Context(prec=400)
_EXACT = Context(prec=2000)
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


class Map(dict[str, "Value"]):
    """A cty map (a `map(...)` type: a typed variable, convert(), zipmap() of a list), where a
    plain dict is an object: cty tells them apart (index() takes a map, refuses an object; a
    map never equals an object)."""


class List(list["Value"]):
    """A cty list (split(), a `list(...)` variable, ...), where a plain list is a tuple (a
    literal `[...]`, a `for`): `split(",", "a") == ["a"]` is false in bake."""


class Set(List):
    """A cty set (setunion(), a `set(...)` variable): its elements once, in cty's order."""


class Refusal(Exception):
    """What the offline reading will not guess: the message names the cause, `at` the file and
    line of the construct (``docker-bake.hcl:12``) when there is one."""

    def __init__(self, what: str, at: str = "") -> None:
        super().__init__(what)
        self.what, self.at = what, at

    def __str__(self) -> str:
        return f"{self.at}: {self.what}" if self.at else self.what


class EvalError(Exception):
    """An error bake itself would report for an expression (a function's bad argument, a
    missing attribute, a type mismatch); the evaluator adds the file and line (HclError)."""


class HclError(Refusal):
    """An error bake itself reports for this construct, with its file and line: `can()` and
    `try()` catch these (and EvalError), never a plain Refusal (a limit of the offline reading
    that bake may not share)."""

    def __str__(self) -> str:
        where = f"{self.at}: " if self.at else ""
        return f"{where}{self.what} (bake itself fails here too)"


def kind(v: Value) -> str:
    """cty's friendly type name for a value."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, Decimal):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "set" if isinstance(v, Set) else "list" if isinstance(v, List) else "tuple"
    return "map" if isinstance(v, Map) else "object"


def like(template: Value, items: list[Value]) -> list[Value]:
    """items as the same kind of sequence as template (a list stays a list)."""
    if isinstance(template, Set):
        return as_set(items)
    return List(items) if isinstance(template, List) else items


def _round(q: Fraction) -> Fraction:
    """q rounded to a 512-bit mantissa, to nearest even (big.Float's ToNearestEven)."""
    if q == 0:
        return q
    e = abs(q.numerator).bit_length() - q.denominator.bit_length()
    if Fraction(2) ** e > abs(q):
        e -= 1
    scale = Fraction(2) ** (PREC - 1 - e)
    return Fraction(round(q * scale)) / scale  # (round(): half to even)


def _decimal(q: Fraction) -> Decimal:
    return _EXACT.divide(Decimal(q.numerator), Decimal(q.denominator))


def exact(q: Fraction) -> Decimal:
    """A result as cty holds it: rounded to 512 bits, as an exact decimal."""
    if q.denominator == 1 and abs(q.numerator).bit_length() <= PREC:
        return Decimal(q.numerator)
    return _decimal(_round(q))


def number(text: str) -> Decimal:
    """A decimal literal as cty.ParseNumberVal reads it."""
    if text.lstrip("-").isdigit():
        return exact(Fraction(int(text)))
    return exact(Fraction(text))


def shortest(d: Decimal) -> Decimal:
    """The shortest decimal that rounds back to the same 512-bit float as d (what
    big.Float.Text(_, -1) prints the digits of)."""
    if d == d.to_integral_value():
        return d
    x = _round(abs(Fraction(d)))
    e = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** e > x:
        e -= 1
    half = Fraction(2) ** (e - PREC)  # half the distance to the next float
    even = (x / (Fraction(2) ** (e - PREC + 1))).numerator % 2 == 0
    exact_x = _decimal(x)
    for digits in range(1, 200):
        cand = Context(prec=digits, rounding=ROUND_HALF_EVEN).plus(exact_x)
        gap = abs(Fraction(cand) - x)
        if gap < half or (gap == half and even):
            return cand if d > 0 else -cand
    return exact_x if d > 0 else -exact_x


def fmt_number(d: Decimal) -> str:
    """A number as cty prints it (big.Float Text('f', -1)): shortest digits, no exponent."""
    if d.is_nan() or d.is_infinite():
        raise EvalError(f"cannot use {d} as a string")
    if d == d.to_integral_value():
        return str(int(d))
    text = format(shortest(d), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def arith(op: str, a: Decimal, b: Decimal) -> Decimal:
    """a op b as cty computes it: on the 512-bit floats, the result rounded again."""
    x, y = Fraction(a), Fraction(b)
    if op in "/%" and y == 0:
        raise EvalError("can't divide by zero" if op == "/" else "can't use modulo by zero")
    if op == "+":
        return exact(x + y)
    if op == "-":
        return exact(x - y)
    if op == "*":
        return exact(x * y)
    if op == "/":
        return exact(x / y)
    quotient = x / y  # modulo: a - trunc(a/b)*b, the sign of a (cty's Modulo)
    return exact(x - int(quotient) * y)


def to_str(v: Value) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return fmt_number(v)
    if v is None:
        raise EvalError("a null value where a string is required")
    raise EvalError(f"a {kind(v)} where a string is required")


def to_num(v: Value) -> Decimal:
    if isinstance(v, Decimal):
        return v
    if isinstance(v, str) and _NUMBER.match(v):
        try:
            return number(v)
        except (InvalidOperation, ValueError, ZeroDivisionError) as e:
            raise EvalError(f"a number is required, not {v!r}") from e
    if v is None:
        raise EvalError("a null value where a number is required")
    raise EvalError(f"a number is required, not {kind(v)} {short(v)}")


def to_bool(v: Value) -> bool:
    if isinstance(v, bool):
        return v
    if v in ("true", "false"):
        return v == "true"
    if v is None:
        raise EvalError("a null value where a bool is required")
    raise EvalError(f"a bool is required, not {kind(v)} {short(v)}")


def to_list(v: Value) -> list[Value]:
    if isinstance(v, list):
        return v
    raise EvalError(f"a list is required, not {kind(v)} {short(v)}")


def to_obj(v: Value) -> dict[str, Value]:
    if isinstance(v, dict):
        return v
    raise EvalError(f"a map or object is required, not {kind(v)} {short(v)}")


def equal(a: Value, b: Value) -> bool:
    """cty equality: values of different types are never equal (1 != "1", a list is not a
    tuple); sets are equal with the same elements."""
    if kind(a) != kind(b):
        return False
    if isinstance(a, Set) and isinstance(b, Set):
        return len(a) == len(b) and all(any(equal(x, y) for y in b) for x in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return a == b


def sort_key(v: Value) -> tuple[int, Decimal, str]:
    """cty's order for a set of primitives: numbers by value, strings lexically (by bytes);
    anything else after them, in a stable order."""
    if isinstance(v, Decimal):
        return (0, v, "")
    if isinstance(v, bool):
        return (1, Decimal(v), "")
    if isinstance(v, str):
        return (2, Decimal(0), v)
    return (3, Decimal(0), repr(v))


def distinct(items: list[Value]) -> list[Value]:
    out: list[Value] = []
    for item in items:
        if not any(equal(item, o) for o in out):
            out.append(item)
    return out


def as_set(v: Value) -> Set:
    """A collection as a cty set: duplicates once, in the set's order."""
    items = to_list(v) if not isinstance(v, dict) else list(v.values())
    return Set(sorted(distinct(items), key=sort_key))


def short(v: Value) -> str:
    """A value in one short line, for a message."""
    text = repr(v) if not isinstance(v, Decimal) else fmt_number(v)
    return text if len(text) <= 60 else text[:57] + "..."


def unify(items: list[Value]) -> list[Value]:
    """A tuple as a list of one element type, as cty converts it: strings win over numbers and
    bools (which become strings), lists over tuples, maps over objects; nulls stay null."""
    kinds = {kind(x) for x in items} - {"null"}
    if len(kinds) > 1 and kinds <= {"string", "number", "bool"}:
        return [None if x is None else to_str(x) for x in items]
    if kinds == {"list", "tuple"}:  # tuples among lists become lists
        return [List(x) if isinstance(x, list) else x for x in items]
    if kinds == {"map", "object"}:
        return [Map(x) if isinstance(x, dict) else x for x in items]
    return items
