"""Compose files as bake reads them (buildx bake/compose.go ParseCompose): every service with
a `build` becomes a target (dots in its name become underscores) with the build's context,
dockerfile, args, labels, tags (else the service's `image`), platforms, target, cache and the
`x-bake` extension (tags, platforms, output, ...); all of them form the group `default`.
Values are interpolated as compose-go interpolates them, from the environment, the project's
`.env` and `--var`. `include` and `extends`, which compose-go resolves, are refused."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bakeguard.compose import dotenv
from bakeguard.hcl.target import Target, parse_entry
from bakeguard.hcl.values import HclError, Refusal

_LABEL = re.compile(r"^[a-zA-Z0-9_-]+$")


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = (":-", ":?", ":+", "-", "?", "+")


def interpolate(text: str, env: Mapping[str, str], where: str) -> str:
    """compose-go's interpolation: `$$`, `$VAR`, `${VAR}` and `${VAR[:]-default}`,
    `${VAR[:]?error}`, `${VAR[:]+replacement}` (`:` also for an empty value), nested."""
    out, i = [], 0
    while (j := text.find("$", i)) >= 0:
        out.append(text[i:j])
        if text.startswith("$$", j):
            out.append("$")
            i = j + 2
            continue
        m = _NAME.match(text, j + 1)
        if m is not None:  # $VAR
            out.append(env.get(m.group(0), ""))
            i = m.end()
            continue
        if not text.startswith("${", j):
            out.append("$")
            i = j + 1
            continue
        end = _brace_end(text, j + 2, where)
        out.append(_substitute(text[j + 2 : end], env, where))
        i = end + 1
    return "".join([*out, text[i:]])


def _brace_end(text: str, start: int, where: str) -> int:
    depth = 0
    for k in range(start, len(text)):
        if text.startswith("${", k):
            depth += 1
        elif text[k] == "}":
            if depth == 0:
                return k
            depth -= 1
    raise HclError(f"compose interpolation `${{` without its `}}` in {text!r}", where)


def _substitute(inner: str, env: Mapping[str, str], where: str) -> str:
    m = _NAME.match(inner)
    if m is None:
        raise HclError(f"invalid compose interpolation ${{{inner}}}", where)
    name, rest = m.group(0), inner[m.end() :]
    value = env.get(name)
    op = next((o for o in _OPS if rest.startswith(o)), "")
    if rest and not op:
        raise HclError(f"invalid compose interpolation ${{{inner}}}", where)
    arg = rest[len(op) :]
    missing = value is None or (op.startswith(":") and value == "")
    if op.endswith("-"):
        return interpolate(arg, env, where) if missing else str(value)
    if op.endswith("?"):
        if missing:
            raise HclError(f"required variable {name} is missing a value: {arg}", where)
        return str(value)
    if op.endswith("+"):
        return "" if missing else interpolate(arg, env, where)
    return value or ""


def _interp(v: Any, env: Mapping[str, str], where: str) -> Any:
    if isinstance(v, str):
        return interpolate(v, env, where)
    if isinstance(v, list):
        return [_interp(x, env, where) for x in v]
    if isinstance(v, dict):
        return {str(k): _interp(x, env, where) for k, x in v.items()}
    return v


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        return {**a, **{k: _merge(a.get(k), x) for k, x in b.items()}}
    return b


def _strings(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return v.split()  # x-bake's stringArray: one string is whitespace-separated fields
    return [str(x) for x in v if x is not None]


def _mapping(v: Any, env: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """A compose mapping, as a dict or a `KEY=VALUE` list; a `KEY` without a value takes it
    from `env` (bake: the service's environment, then the project's) or stays null."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(v, dict):
        pairs = [(str(k), x) for k, x in v.items()]
    elif isinstance(v, list):
        for item in v:
            k, eq, x = str(item).partition("=")
            pairs.append((k, x if eq else None))
    out: dict[str, str | None] = {}
    for k, x in pairs:
        value = (env or {}).get(k) if x is None else x
        out[k] = (
            None if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        )
    return out


def read(
    files: list[tuple[str, Path]], environ: Mapping[str, str], variables: Mapping[str, str],
    cwd: Path,
) -> list[Target]:  # fmt: skip
    """The targets of these compose files (name as given, path), merged as compose merges
    them: a later file's service mapping over an earlier one's, key by key."""
    import yaml

    env = {**dotenv(str(cwd)), **environ, **variables}
    services: dict[str, Any] = {}
    for name, path in files:
        try:
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f.read(8 << 20))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise Refusal(f"cannot read it as compose: {str(e).splitlines()[0]}", name) from e
        if not isinstance(doc, dict) or not isinstance(doc.get("services", {}), dict):
            raise HclError("not a compose file (no `services` mapping)", name)
        if "include" in doc:
            raise Refusal("compose `include` is read only by buildx", name)
        for svc_name, svc in (doc.get("services") or {}).items():
            if isinstance(svc, dict) and "extends" in svc:
                raise Refusal(f"service {svc_name}: compose `extends` is read only by buildx", name)
            key = str(svc_name)
            services[key] = _merge(services.get(key), _interp(svc or {}, env, name))
    project = env
    out = []
    for svc_name, svc in services.items():
        t = _target(svc_name, svc, files[0][0], project)
        if t is not None:
            out.append(t)
    return out


def _target(name: str, svc: Any, where: str, project: Mapping[str, str]) -> Target | None:
    if not isinstance(svc, dict) or svc.get("build") is None:
        return None
    tname = name.replace(".", "_")
    if not _LABEL.match(tname):
        raise HclError(f"invalid service name {tname!r}", where)
    build = svc["build"]
    build = {"context": build} if isinstance(build, str) else build
    if not isinstance(build, dict):
        raise Refusal(f"service {name}: `build` is neither a path nor a mapping", where)
    t = Target(tname, at=where)
    for key in ("context", "dockerfile", "dockerfile_inline", "target", "network"):
        if build.get(key):
            t.strs[key.replace("_", "-")] = str(build[key])
    environment = _mapping(svc.get("environment"), project)
    known = {**project, **{k: v for k, v in environment.items() if v is not None}}
    args = {k: v for k, v in _mapping(build.get("args"), known).items() if v is not None}
    if args:
        t.maps["args"] = dict(args)
    if build.get("labels"):
        t.maps["labels"] = _mapping(build["labels"])
    if build.get("additional_contexts"):
        t.maps["contexts"] = dict(_contexts(_mapping(build["additional_contexts"])))
    for key in ("tags", "platforms"):
        if build.get(key) is not None:
            t.lists[key] = _strings(build[key])
    for key in ("cache_from", "cache_to"):
        if build.get(key):
            entries = [e for v in _strings(build[key]) for e in parse_entry("cache", v)]
            t.entries[key.replace("_", "-")] = entries
    for key in ("no_cache", "pull"):
        if build.get(key):
            t.bools[key.replace("_", "-")] = True
    _xbake(t, build.get("x-bake"))
    if not t.lists.get("tags") and svc.get("image"):
        t.lists["tags"] = [str(svc["image"])]
    return t


def _contexts(m: Mapping[str, str | None]) -> dict[str, str]:
    """additional_contexts: `service:NAME` and `target:NAME` both name a bake target."""
    out = {}
    for k, v in m.items():
        if v is not None and v.startswith(("service:", "target:")):
            out[k] = "target:" + v.split(":", 1)[1].replace(".", "_")
        elif v is not None:
            out[k] = v
    return out


def _xbake(t: Target, x: Any) -> None:
    """The x-bake extension (bake compose.go composeExtTarget): appended to the service's."""
    if not isinstance(x, dict):
        return
    for key in ("tags", "platforms", "no-cache-filter"):
        if x.get(key):
            t.lists[key] = list(dict.fromkeys([*t.lists.get(key, []), *_strings(x[key])]))
    for key in ("cache-from", "cache-to", "output", "secret", "ssh"):
        if x.get(key):
            kind = "cache" if key.startswith("cache") else key
            new = [e for v in _strings(x[key]) for e in parse_entry(kind, v)]
            old = t.entries.get(key, [])
            t.entries[key] = [*old, *[e for e in new if e not in old]]
    for key in ("pull", "no-cache"):
        if isinstance(x.get(key), bool):
            t.bools[key] = x[key]
    if isinstance(x.get("contexts"), dict):
        t.maps["contexts"] = {**_contexts(_mapping(x["contexts"])), **t.maps.get("contexts", {})}
