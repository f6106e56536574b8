"""bake's semvercmp(version, constraint): Masterminds/semver v3.4 (the version buildx pins),
its loose versions (`v1.2`, `1`) and constraints (`>= 1.2, < 2 || ^3`, `1.2.x`, `~1.2`,
`1.0 - 2.0`), ported from its constraints.go."""

from __future__ import annotations

import re
from typing import NamedTuple

from bakeguard.hcl.values import EvalError

_LOOSE = re.compile(
    r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$"
)
_CV = (
    r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
_ONE = re.compile(rf"^\s*({_OPS})\s*({_CV})\s*$")
_RANGE = re.compile(rf"\s*({_CV})\s+-\s+({_CV})\s*")
_FIND = re.compile(rf"({_OPS})\s*({_CV})")
_VALID = re.compile(rf"^(\s*({_OPS})\s*({_CV})\s*)((?:\s+|,\s*)({_OPS})\s*({_CV})\s*)*$")


class Version(NamedTuple):
    major: int
    minor: int
    patch: int
    pre: str


def version(text: str) -> Version:
    m = _LOOSE.match(text)
    if m is None:
        raise EvalError(f"invalid semantic version {text!r}")
    minor, patch = (int(g[1:]) if g else 0 for g in (m.group(2), m.group(3)))
    return Version(int(m.group(1)), minor, patch, m.group(5) or "")


def _pre_part(s: str, o: str) -> int:
    if s == o:
        return 0
    if s == "" or o == "":
        return -1 if s == "" else 1
    if s.isdigit() and o.isdigit():
        return (int(s) > int(o)) - (int(s) < int(o))
    if s.isdigit() or o.isdigit():
        return -1 if s.isdigit() else 1
    return 1 if s > o else -1


def compare(v: Version, o: Version) -> int:
    for a, b in ((v.major, o.major), (v.minor, o.minor), (v.patch, o.patch)):
        if a != b:
            return 1 if a > b else -1
    if v.pre == o.pre or (not v.pre and not o.pre):
        return 0
    if not v.pre or not o.pre:
        return 1 if not v.pre else -1
    sp, op = v.pre.split("."), o.pre.split(".")
    for i in range(max(len(sp), len(op))):
        d = _pre_part(sp[i] if i < len(sp) else "", op[i] if i < len(op) else "")
        if d:
            return d
    return 0


class _Constraint(NamedTuple):
    op: str
    con: Version
    dirty: bool
    minor_dirty: bool
    patch_dirty: bool


def _is_x(s: str) -> bool:
    return s in ("x", "X", "*")


def _parse(text: str) -> _Constraint:
    m = _ONE.match(text)
    if m is None:
        raise EvalError(f"improper constraint: {text}")
    op, ver = m.group(1), m.group(2)
    g3, g4, g5, pre = m.group(3), m.group(4) or "", m.group(5) or "", m.group(6) or ""
    minor_dirty = patch_dirty = dirty = False
    if _is_x(g3) or g3 == "":
        ver, dirty = f"0.0.0{pre}", True
    elif _is_x(g4.removeprefix(".")) or g4 == "":
        ver, dirty, minor_dirty = f"{g3}.0.0{pre}", True, True
    elif _is_x(g5.removeprefix(".")) or g5 == "":
        ver, dirty, patch_dirty = f"{g3}{g4}.0{pre}", True, True
    return _Constraint(op, version(ver), dirty, minor_dirty, patch_dirty)


def _check(v: Version, c: _Constraint, include_pre: bool) -> bool:
    if v.pre and not include_pre:
        return False
    cmp = compare(v, c.con)
    k = c.con
    if c.op in ("", "=") and not c.dirty:
        return cmp == 0
    if c.op in ("", "=", "~", "~>"):
        if cmp < 0:
            return False
        if (k.major, k.minor, k.patch) == (0, 0, 0) and not c.minor_dirty and not c.patch_dirty:
            return True
        return v.major == k.major and (v.minor == k.minor or c.minor_dirty)
    if c.op == "!=":
        if c.dirty:
            if k.major != v.major:
                return True
            if c.minor_dirty:
                return False
            if k.minor != v.minor:
                return True
            if c.patch_dirty:
                return (
                    bool(v.pre or k.pre)
                    and compare(Version(0, 0, 0, v.pre), Version(0, 0, 0, k.pre)) != 0
                )
        return cmp != 0
    if c.op == ">":
        if c.dirty and v.major != k.major:
            return v.major > k.major
        if c.minor_dirty:
            return False
        if c.patch_dirty:
            return v.minor > k.minor
        return cmp > 0
    if c.op == "<":
        return cmp < 0
    if c.op in (">=", "=>"):
        return cmp >= 0
    if c.op in ("<=", "=<"):
        if not c.dirty:
            return cmp <= 0
        return not (
            v.major > k.major or (v.major == k.major and v.minor > k.minor and not c.minor_dirty)
        )
    # ^
    if cmp < 0:
        return False
    if k.major > 0 or c.minor_dirty:
        return v.major == k.major
    if v.major > 0:
        return False
    if k.minor > 0 or c.patch_dirty:
        return v.minor == k.minor
    return v.minor == 0 and v.patch == k.patch


def satisfies(text: str, constraint: str) -> bool:
    v = version(text)
    rewritten = constraint
    for m in _RANGE.finditer(constraint):
        rewritten = rewritten.replace(m.group(0), f">= {m.group(1)}, <= {m.group(11)} ", 1)
    for group in rewritten.split("||"):
        if not _VALID.match(group):
            raise EvalError(f"improper constraint: {group}")
        found = [m.group(0) for m in _FIND.finditer(group)] or [group]
        cs = [_parse(s) for s in found]
        include_pre = any(c.con.pre for c in cs)
        if all(_check(v, c, include_pre) for c in cs):
            return True
    return False
