"""bake's date, network and version functions: go-cty's datetime.go (formatdate, timeadd),
bake's own timestamp/formattimestamp/unixtimestampparse/semvercmp (bake/hclparser/stdlib.go)
and go-cty-funcs' cidr package."""

from __future__ import annotations

import calendar
import ipaddress
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from bakeguard.hcl.calls import Spec
from bakeguard.hcl.semver import satisfies
from bakeguard.hcl.values import EvalError, List, Value, to_num, to_str

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[-+]\d{2}:\d{2})$"
)
_TOKEN = re.compile(r"'(?:[^']|'')*'?|([A-Za-z])\1*|[^'A-Za-z]+")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_rfc3339(text: str) -> datetime:
    m = _RFC3339.match(text)
    if m is None:
        raise EvalError(f"not a valid RFC3339 timestamp: {text!r}")
    y, mo, d, h, mi, s, frac, zone = m.groups()
    tz = timezone.utc
    if zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    micro = int((frac or ".0")[1:7].ljust(6, "0"))
    return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tz)


def rfc3339(t: datetime) -> str:
    off = t.utcoffset() or timedelta(0)
    if off == timedelta(0):
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + _zone(off, colon=True)


def _zone(off: timedelta, colon: bool) -> str:
    minutes = int(off.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hh, mm = divmod(abs(minutes), 60)
    return f"{sign}{hh:02d}{':' if colon else ''}{mm:02d}"


def _verb(tok: str, t: datetime) -> str:
    c, n = tok[0], len(tok)
    hour12 = t.hour % 12 or 12
    table: dict[tuple[str, int], str] = {
        ("Y", 2): f"{t.year % 100:02d}",
        ("Y", 4): f"{t.year:04d}",
        ("M", 1): str(t.month),
        ("M", 2): f"{t.month:02d}",
        ("M", 3): calendar.month_name[t.month][:3],
        ("M", 4): calendar.month_name[t.month],
        ("D", 1): str(t.day),
        ("D", 2): f"{t.day:02d}",
        ("E", 3): calendar.day_name[t.weekday()][:3],
        ("E", 4): calendar.day_name[t.weekday()],
        ("h", 1): str(t.hour),
        ("h", 2): f"{t.hour:02d}",
        ("H", 1): str(hour12),
        ("H", 2): f"{hour12:02d}",
        ("A", 2): "AM" if t.hour < 12 else "PM",
        ("a", 2): "am" if t.hour < 12 else "pm",
        ("m", 1): str(t.minute),
        ("m", 2): f"{t.minute:02d}",
        ("s", 1): str(t.second),
        ("s", 2): f"{t.second:02d}",
    }
    off = t.utcoffset() or timedelta(0)
    if c == "Z":
        zones = {1: "Z" if off == timedelta(0) else _zone(off, True), 4: _zone(off, False)}
        zones[3] = "UTC" if off == timedelta(0) else _zone(off, False)
        zones[5] = _zone(off, True)
        if n in zones:
            return zones[n]
    if (c, n) not in table:
        raise EvalError(f"invalid date format verb {tok!r}")
    return table[(c, n)]


def formatdate(spec: str, t: datetime) -> str:
    out: list[str] = []
    for m in _TOKEN.finditer(spec):
        tok = m.group(0)
        if tok.startswith("'"):
            out.append("'" if tok == "''" else tok[1:].removesuffix("'").replace("''", "'"))
        elif tok[0].isalpha():
            out.append(_verb(tok, t))
        else:
            out.append(tok)
    return "".join(out)


def _duration(text: str) -> timedelta:
    """Go's time.ParseDuration: `1h30m`, `-1.5h`, `300ms`."""
    m = re.fullmatch(r"([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+", text)
    if text in ("0", "+0", "-0"):
        return timedelta(0)
    if m is None:
        raise EvalError(f"time: invalid duration {text!r}")
    total = sum(
        float(num) * _UNITS[unit]
        for num, unit in re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", text)
    )
    return timedelta(seconds=-total if m.group(1) == "-" else total)


def _unix(v: Value) -> datetime:
    d = to_num(v)
    if d != d.to_integral_value():
        raise EvalError("unix timestamp must be an integer")
    return datetime.fromtimestamp(int(d), timezone.utc)


def _formattimestamp(a: list[Value]) -> Value:
    spec = to_str(a[0])
    t = parse_rfc3339(a[1]) if isinstance(a[1], str) else _unix(a[1])
    if spec == "X":
        return str(calendar.timegm(t.utctimetuple()))
    return formatdate(spec, t)


def _unixtimestampparse(a: list[Value]) -> Value:
    t = _unix(a[0])
    iso_year, iso_week, _ = t.isocalendar()
    n = Decimal
    return {
        "year": n(t.year),
        "year_day": n(t.timetuple().tm_yday),
        "day": n(t.day),
        "month": n(t.month),
        "month_name": calendar.month_name[t.month],
        "weekday": n((t.weekday() + 1) % 7),
        "weekday_name": calendar.day_name[t.weekday()],
        "hour": n(t.hour),
        "minute": n(t.minute),
        "second": n(t.second),
        "rfc3339": rfc3339(t),
        "iso_year": n(iso_year),
        "iso_week": n(iso_week),
    }


def _network(v: Value) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(to_str(v), strict=False)
    except ValueError as e:
        raise EvalError(f"invalid CIDR expression: {e}") from e


def _cidrhost(a: list[Value]) -> Value:
    net, num = _network(a[0]), int(to_num(a[1]))
    if not -net.num_addresses <= num < net.num_addresses:
        raise EvalError(f"prefix of {net.prefixlen} does not accommodate a host numbered {num}")
    base = int(net.network_address) + (num if num >= 0 else net.num_addresses + num)
    return str(ipaddress.ip_address(base))


def _subnet(net: ipaddress.IPv4Network | ipaddress.IPv6Network, bits: int, num: int) -> str:
    new = net.prefixlen + bits
    if bits < 0 or new > net.max_prefixlen:
        raise EvalError(f"insufficient address space to extend prefix of {net.prefixlen} by {bits}")
    if not 0 <= num < 2**bits:
        raise EvalError(f"prefix extension of {bits} does not accommodate a subnet numbered {num}")
    base = int(net.network_address) + (num << (net.max_prefixlen - new))
    return f"{ipaddress.ip_address(base)}/{new}"


def _cidrsubnets(a: list[Value]) -> Value:
    net = _network(a[0])
    out = List()
    current = int(net.network_address)
    for bits_v in a[1:]:
        new = net.prefixlen + int(to_num(bits_v))
        size = 2 ** (net.max_prefixlen - new)
        current = -(-current // size) * size  # the next boundary of this size
        if current + size > int(net.network_address) + net.num_addresses:
            raise EvalError(f"not enough remaining address space for a subnet with prefix {new}")
        out.append(f"{ipaddress.ip_address(current)}/{new}")
        current += size
    return out


FUNCS: dict[str, Spec] = {
    "timestamp": (0, 0, lambda a: rfc3339(datetime.now(timezone.utc).replace(microsecond=0))),
    "formatdate": (2, 2, lambda a: formatdate(to_str(a[0]), parse_rfc3339(to_str(a[1])))),
    "formattimestamp": (2, 2, _formattimestamp),
    "timeadd": (2, 2, lambda a: rfc3339(parse_rfc3339(to_str(a[0])) + _duration(to_str(a[1])))),
    "unixtimestampparse": (1, 1, _unixtimestampparse),
    "cidrhost": (2, 2, _cidrhost),
    "cidrnetmask": (1, 1, lambda a: str(ipaddress.IPv4Network(to_str(a[0]), strict=False).netmask)),
    "cidrsubnet": (3, 3, lambda a: _subnet(_network(a[0]), int(to_num(a[1])), int(to_num(a[2])))),
    "cidrsubnets": (1, None, _cidrsubnets),
    "semvercmp": (2, 2, lambda a: satisfies(to_str(a[0]), to_str(a[1]))),
}
