"""An offline reading of bake files (HCL through python-hcl2, and JSON) for `--guard-plan` when
docker cannot resolve the definition. It evaluates what can be evaluated without buildx:
variables (defaults, overridden by the environment as bake does), user functions whose result
is a template, string interpolation, `inherits`, `matrix`, groups, and `--set` of tags,
platform(s) and output plus `--push`. Anything else is named in an Unsupported error, never
guessed."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from itertools import product
from pathlib import Path
from typing import Any

from bakeguard.cachekey import BAKE_FILES

COMPOSE = (".yml", ".yaml")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_CALL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$", re.S)


class Unsupported(Exception):
    """A construct the offline reading cannot evaluate; the message names it."""


class _Expr(str):
    """An HCL expression as python-hcl2 leaves it (not a string literal)."""


def _literal(v: Any, hcl: bool) -> Any:
    """python-hcl2 keeps quotes on string literals: '"x"' is the string x, 'x' an expression."""
    if isinstance(v, dict):
        return {
            _unquote(k) if hcl else k: _literal(x, hcl) for k, x in v.items() if k != "__is_block__"
        }
    if isinstance(v, list):
        return [_literal(x, hcl) for x in v]
    if isinstance(v, str):
        if not hcl:
            return v
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            return v[1:-1]
        if v.startswith("${") and v.endswith("}"):
            return _Expr(v[2:-1])
        return _Expr(v)
    return v


def _unquote(k: str) -> str:
    return k[1:-1] if len(k) >= 2 and k[0] == '"' and k[-1] == '"' else k


def _blocks(doc: Mapping[str, Any], kind: str, hcl: bool) -> dict[str, Any]:
    raw = doc.get(kind) or {}
    items: list[tuple[str, Any]] = []
    if isinstance(raw, list):  # python-hcl2: a list of {name: body}
        for entry in raw:
            items += list(entry.items())
    else:  # JSON: {name: body}
        items = list(raw.items())
    return {_unquote(k) if hcl else k: _literal(v, hcl) for k, v in items}


class Reader:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.variables: dict[str, Any] = {}
        self.functions: dict[str, Any] = {}
        self.groups: dict[str, list[Any]] = {}
        self.targets: dict[str, dict[str, Any]] = {}

    def load(self, path: Path) -> None:
        text = path.read_text()
        if path.suffix in COMPOSE:
            raise Unsupported(f"{path.name}: compose files are read only by buildx itself")
        if path.suffix == ".json":
            doc, hcl = json.loads(text), False
        else:
            import hcl2

            try:
                doc, hcl = hcl2.loads(text), True
            except Exception as e:  # python-hcl2 raises lark errors of many kinds
                raise Unsupported(f"{path.name}: python-hcl2 cannot parse it: {e}") from e
        for name, body in _blocks(doc, "variable", hcl).items():
            self.variables[name] = body.get("default") if isinstance(body, dict) else body
        self.functions.update(_blocks(doc, "function", hcl))
        for name, body in _blocks(doc, "group", hcl).items():
            self.groups[name] = list(body.get("targets") or [])
        for name, body in _blocks(doc, "target", hcl).items():
            self.targets.setdefault(name, {}).update(body)  # later files override keys

    # ------------------------------------------------------------ evaluation

    def var(self, name: str, scope: Mapping[str, Any]) -> Any:
        if name in scope:
            return scope[name]
        if name in self.variables:
            if name in self.environ:
                return self.environ[name]
            return self.eval(self.variables[name], scope)
        raise Unsupported(f"unknown name {name!r}")

    def eval(self, v: Any, scope: Mapping[str, Any]) -> Any:
        if isinstance(v, _Expr):
            return self.expr(str(v).strip(), scope)
        if isinstance(v, str):
            return self.template(v, scope)
        if isinstance(v, list):
            return [self.eval(x, scope) for x in v]
        if isinstance(v, dict):
            return {k: self.eval(x, scope) for k, x in v.items()}
        return v

    def template(self, s: str, scope: Mapping[str, Any]) -> str:
        out, i = "", 0
        while i < len(s):
            j = s.find("${", i)
            if j < 0:
                return out + s[i:]
            out += s[i:j]
            depth, k = 0, j + 2
            while k < len(s):
                if s[k] == "{":
                    depth += 1
                elif s[k] == "}":
                    if depth == 0:
                        break
                    depth -= 1
                k += 1
            out += str(self.expr(s[j + 2 : k].strip(), scope))
            i = k + 1
        return out

    def expr(self, e: str, scope: Mapping[str, Any]) -> Any:
        if e in ("true", "false"):
            return e == "true"
        if e == "null":
            return None
        if re.fullmatch(r"-?\d+(\.\d+)?", e):
            return json.loads(e)
        if len(e) >= 2 and e[0] == '"' and e[-1] == '"':
            return self.template(e[1:-1], scope)
        if _IDENT.match(e):
            return self.var(e, scope)
        m = _CALL.match(e)
        if m and m.group(1) in self.functions:
            fn = self.functions[m.group(1)]
            params = [str(p) for p in fn.get("params") or []]
            args = [self.expr(a.strip(), scope) for a in _split_args(m.group(2))]
            if len(args) != len(params):
                raise Unsupported(f"call {e!r}: {len(args)} arguments for {len(params)} params")
            return self.eval(fn.get("result"), {**scope, **dict(zip(params, args, strict=True))})
        raise Unsupported(
            f"expression {e!r} (functions, operators and conditionals other than "
            "user functions with a template result are not evaluated offline)"
        )

    # ------------------------------------------------------------ targets

    def resolve_target(self, name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if name in seen:
            raise Unsupported(f"inherits cycle through {name!r}")
        if name not in self.targets:
            raise Unsupported(f"no target {name!r}")
        body = dict(self.targets[name])
        merged: dict[str, Any] = {}
        for parent in self.eval(body.pop("inherits", []), {}):
            merged.update(self.resolve_target(str(parent), (*seen, name)))
        merged.update(body)
        return merged

    def expand(self, names: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        for name in names:
            if name in self.groups and name not in self.targets:
                out += self.expand([str(self.eval(t, {})) for t in self.groups[name]])
                continue
            matrix_owner = next(
                (
                    t
                    for t, b in self.targets.items()
                    if "matrix" in b and name in self._matrix_names(t)
                ),
                None,
            )
            if name not in self.targets and matrix_owner:
                out += [(n, b) for n, b in self._matrix(matrix_owner) if n == name]
                continue
            body = self.resolve_target(name)
            if "matrix" in body:
                out += self._matrix(name)
            else:
                out.append((name, self.eval(body, {})))
        seen: dict[str, dict[str, Any]] = {}
        for n, b in out:
            seen.setdefault(n, b)
        return list(seen.items())

    def _matrix(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        body = self.resolve_target(name)
        matrix = self.eval(body.pop("matrix"), {})
        template = body.pop("name", None)
        if template is None:
            raise Unsupported(f"matrix target {name!r} without a name template")
        keys = list(matrix)
        out = []
        for combo in product(*(matrix[k] for k in keys)):
            scope = dict(zip(keys, combo, strict=True))
            out.append((str(self.eval(template, scope)), self.eval(body, scope)))
        return out

    def _matrix_names(self, name: str) -> list[str]:
        try:
            return [n for n, _ in self._matrix(name)]
        except Unsupported:
            return []


def _split_args(s: str) -> list[str]:
    out, depth, cur, quoted = [], 0, "", False
    for ch in s:
        if ch == '"':
            quoted = not quoted
        if not quoted and ch in "({[":
            depth += 1
        if not quoted and ch in ")}]":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return [*out, cur] if cur.strip() else out


def read(
    files: Sequence[str],
    targets: Sequence[str],
    overrides: Sequence[str],
    push: bool,
    environ: Mapping[str, str],
    cwd: Path,
) -> dict[str, Any]:
    """The definition as `bake --print` would print it (target: name -> attributes)."""
    paths = [cwd / f for f in files] or [cwd / f for f in BAKE_FILES if (cwd / f).exists()]
    if not paths:
        raise Unsupported("no bake file given and none of the default names exists here")
    r = Reader(environ)
    for p in paths:
        r.load(p)
    wanted = list(targets) or ["default"]
    resolved = dict(r.expand(wanted))
    for ov in overrides:
        key, eq, value = ov.partition("=")
        pattern, _, attr = key.rpartition(".")
        if not eq or not pattern:
            raise Unsupported(f"--set {ov!r}")
        for name, body in resolved.items():
            if not fnmatch.fnmatchcase(name, pattern):
                continue
            if attr in ("platform", "platforms"):
                body["platforms"] = [p for p in value.split(",") if p]
            elif attr == "tags":
                body["tags"] = [value] if value else []
            elif attr == "output":
                body["output"] = [value]
            else:
                raise Unsupported(
                    f"--set of {attr!r} (offline reading handles tags, platform, output)"
                )
    out: dict[str, Any] = {}
    for name, body in resolved.items():
        t = {
            k: v
            for k, v in body.items()
            if k
            in ("tags", "platforms", "output", "annotations", "attest", "context", "dockerfile")
        }
        if push:
            t["output"] = [{"type": "image", "push": "true"}]
        out[name] = t
    return {"group": {"default": {"targets": list(out)}}, "target": out}
