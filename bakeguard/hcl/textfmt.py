"""go-cty's printf (stdlib/format.go, format_fsm.rl) and JSON encoding (cty/json), which
bake's format(), formatlist() and jsonencode() print with."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from bakeguard.hcl.values import EvalError, Value, fmt_number, shortest, to_bool, to_num, to_str

# %, flags, width (no leading 0), .precision, [argument index], verb letter
_VERB = re.compile(r"%([-+# 0]*)([1-9][0-9]*)?(?:\.([0-9]*))?(?:\[([1-9][0-9]*)\])?([A-Za-z])")


def json_encode(v: Value) -> str:
    """cty's JSON: object keys sorted, numbers without exponent, Go's HTML-safe escapes."""
    if v is None or isinstance(v, bool):
        return json.dumps(v)
    if isinstance(v, Decimal):
        return fmt_number(v)
    if isinstance(v, str):
        text = json.dumps(v, ensure_ascii=False)
        for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            text = text.replace(ch, esc)
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(v, list):
        return "[" + ",".join(json_encode(x) for x in v) + "]"
    return "{" + ",".join(f"{json_encode(k)}:{json_encode(v[k])}" for k in sorted(v)) + "}"


def _exp2(text: str) -> str:
    """Go writes an exponent with at least two digits (1e+06); Python's Decimal does not."""
    return re.sub(r"([eE][-+])(\d)$", r"\g<1>0\2", text)


def shortest_g(d: Decimal) -> str:
    """big.Float.Text('g', -1): %e when the exponent is < -4 or >= 6 (shortest digits)."""
    if d == 0:
        return "0"
    n = shortest(d).normalize()
    exp = n.adjusted()
    if exp < -4 or exp >= 6:
        digits = "".join(str(x) for x in n.as_tuple().digits)
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{'-' if n < 0 else ''}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return fmt_number(n)


def _pad(text: str, width: int | None, minus: bool, zero: bool) -> str:
    if width is None or len(text) >= width:
        return text
    pad = ("0" if zero and not minus else " ") * (width - len(text))
    return text + pad if minus else pad + text


def _number(mode: str, flags: str, width: int | None, prec: str | None, v: Value) -> str:
    d = to_num(v)
    spec = ("<" if "-" in flags else "") + ("+" if "+" in flags else " " if " " in flags else "")
    spec += "#" if "#" in flags and mode in "boxX" else ""
    spec += "0" if "0" in flags and "-" not in flags else ""
    spec += str(width) if width is not None else ""
    if mode in "bdoxX":
        if d != d.to_integral_value():
            raise EvalError(f"%{mode} needs an integer, not {fmt_number(d)}")
        return format(int(d), spec + (mode if mode != "d" else "d"))
    if mode in "gG" and prec is None:
        return _pad(shortest_g(d), width, "-" in flags, "0" in flags)
    spec += "." + (prec or "0") if prec is not None else ".6" if mode in "eEf" else ""
    return _exp2(format(d, spec + mode))


def _one(mode: str, flags: str, width: int | None, prec: str | None, v: Value) -> str:
    if mode != "v" and v is None:
        raise EvalError(f"%{mode}: null value cannot be formatted")
    minus, zero = "-" in flags, "0" in flags
    if mode == "v":
        if "#" not in flags and isinstance(v, str):
            return _pad(v, width, minus, zero)
        if "#" not in flags and isinstance(v, Decimal):
            return _pad(shortest_g(v), width, minus, zero)
        return _pad(json_encode(v), width, minus, zero)
    if mode == "t":
        return "true" if to_bool(v) else "false"
    if mode in "bdoxXeEfgG":
        return _number(mode, flags, width, prec, v)
    if mode in "sq":
        s = to_str(v)
        if prec:
            s = s[: int(prec)]
        return _pad(json_encode(s) if mode == "q" else s, width, minus, zero)
    raise EvalError(f"unsupported format verb %{mode}")


def format_values(fmt: str, args: list[Value]) -> str:
    out: list[str] = []
    pos, next_arg, highest = 0, 1, 0
    while pos < len(fmt):
        i = fmt.find("%", pos)
        if i < 0:
            out.append(fmt[pos:])
            break
        out.append(fmt[pos:i])
        if fmt.startswith("%%", i):
            out.append("%")
            pos = i + 2
            continue
        m = _VERB.match(fmt, i)
        if m is None:
            raise EvalError(f"invalid format string starting at offset {i}")
        flags, width, prec, index, mode = m.groups()
        num = int(index) if index else next_arg
        if num > len(args):
            raise EvalError(f"not enough arguments for {m.group(0)!r} at {i}")
        out.append(_one(mode, flags, int(width) if width else None, prec, args[num - 1]))
        highest, next_arg, pos = max(highest, num), num + 1, m.end()
    if highest < len(args):
        raise EvalError(f"too many arguments; only {highest} used by format string")
    return "".join(out)
