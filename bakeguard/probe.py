"""What bake will run on: buildx version, builder (driver, nodes, BuildKit versions) and, for
the `docker` driver, whether the engine uses the containerd image store.

The three docker calls run concurrently; their raw outputs are cached for a short while, keyed
by the docker binary and buildx plugin (path + mtime), the builder and the docker endpoint.
A probe that fails yields "unknown" and never blocks the build.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard, TypeVar

from bakeguard import cachekey, locator
from bakeguard.docker import Docker, Result
from bakeguard.tasks import map_bounded
from bakeguard.text import one_line
from bakeguard.versions import BuildxVersion, parse_buildx_version

# (ServerVersion: the engine's release, whose built-in BuildKit the docker driver runs;
# read from this call rather than another `docker version`: the probe's cost is measured)
INFO_FORMAT = (
    '{"driver_status":{{json .DriverStatus}},"registry":{{json .RegistryConfig}},'
    '"plugins":{{json .ClientInfo.Plugins}},"server_version":{{json .ServerVersion}}}'
)


@dataclass(frozen=True)
class Node:
    name: str
    endpoint: str
    status: str
    buildkit: str | None
    platforms: tuple[str, ...]


@dataclass(frozen=True)
class Builder:
    name: str
    driver: str
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class EngineInfo:
    containerd_store: bool | None  # None: unknown
    insecure_registries: tuple[str, ...] = ()  # host[:port] names and CIDRs the engine allows
    buildx_path: str | None = None  # the buildx plugin binary this docker CLI runs
    version: str | None = None  # the engine's release as `docker info` says (28.5.2+dfsg4)


@dataclass(frozen=True)
class Environment:
    buildx: BuildxVersion
    builder: Builder | None
    engine: EngineInfo
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def driver(self) -> str | None:
        return self.builder.driver if self.builder else None

    @property
    def containerd_store(self) -> bool | None:
        return self.engine.containerd_store if self.driver == "docker" else None

    @property
    def node_count(self) -> int:
        return len(self.builder.nodes) if self.builder else 0


def parse_inspect(text: str) -> Builder | None:
    """`docker buildx inspect` text (every buildx version prints `Key: value` lines; the
    BuildKit key is `BuildKit version:` since 0.11 and `Buildkit:` before)."""
    name = driver = ""
    nodes: list[dict[str, str]] = []
    in_nodes = False
    for line in text.splitlines():
        if line.startswith((" ", "\t")) or ":" not in line:
            continue
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "nodes":
            in_nodes = True
            continue
        if not in_nodes:
            if key == "name" and not name:
                name = value
            elif key == "driver":
                driver = value
        elif key == "name":
            nodes.append({"name": value})
        elif nodes:
            nodes[-1].setdefault(key, value)
    if not name or not driver:
        return None
    return Builder(
        name=name,
        driver=driver,
        nodes=tuple(
            Node(
                name=n["name"],
                endpoint=n.get("endpoint", ""),
                status=n.get("status", ""),
                buildkit=n.get("buildkit version") or n.get("buildkit") or None,
                platforms=tuple(
                    p.strip().rstrip("*") for p in n.get("platforms", "").split(",") if p.strip()
                ),
            )
            for n in nodes
        ),
    )


T = TypeVar("T")


def _of(doc: object, key: str, kind: type[T]) -> T | None:
    """doc[key] when doc is an object and the value is of that kind (what is read here may
    come from the cache, not from docker)."""
    value = doc.get(key) if isinstance(doc, dict) else None
    return value if isinstance(value, kind) else None


def parse_info(text: str) -> EngineInfo:
    try:
        doc = json.loads(text)
    except ValueError:
        return EngineInfo(None)
    status = _of(doc, "driver_status", list) or []
    store: bool | None = None
    for pair in status:
        if isinstance(pair, list) and len(pair) == 2 and pair[0] == "driver-type":
            store = "io.containerd.snapshotter" in str(pair[1])
    if store is None and status:
        store = False  # a classic graphdriver lists its own keys (Backing Filesystem, ...)
    reg = _of(doc, "registry", dict) or {}
    insecure = [str(c) for c in _of(reg, "InsecureRegistryCIDRs", list) or []]
    for name, idx in (_of(reg, "IndexConfigs", dict) or {}).items():
        if isinstance(idx, dict) and not idx.get("Secure", True):
            insecure.append(str(name))
    plugin = next(
        (
            str(p.get("Path"))
            for p in _of(doc, "plugins", list) or []
            if isinstance(p, dict) and p.get("Name") == "buildx" and not p.get("Err")
        ),
        None,
    )
    # (the engine's own words: shown in --guard-doctor and the report, so one short line)
    version = one_line((_of(doc, "server_version", str) or "").strip(), 64) or None
    return EngineInfo(store, tuple(insecure), plugin, version)


def _cache_path(docker: Docker, name: str | None, environ: Mapping[str, str]) -> Path:
    key = cachekey.probe_key(docker.binary, name, environ)
    return Path(cachekey.cache_dir(environ)) / f"{key}.json"


def cached(
    docker: Docker, name: str | None, environ: Mapping[str, str], ttl: float | None = None
) -> Environment | None:
    """The probe's result if a fresh one is cached, without running anything."""
    ttl = cachekey.ttl(environ) if ttl is None else ttl
    if ttl <= 0:
        return None
    try:
        doc = json.loads(_cache_path(docker, name, environ).read_bytes())
    except (OSError, ValueError):  # (bytes that are not UTF-8 are a ValueError too)
        return None
    if not isinstance(doc, dict) or not cachekey.fresh(doc.get("at"), ttl):
        return None
    raw = doc.get("raw")
    return interpret(raw) if _is_raw(raw) else None


def _is_raw(raw: object) -> TypeGuard[dict[str, list[object]]]:
    """What `_run_probes` returns (as the cache keeps it): for each command, [code, stdout,
    stderr]."""
    return isinstance(raw, dict) and all(
        isinstance(r := raw.get(k), list)
        and len(r) == 3
        and type(r[0]) is int
        and isinstance(r[1], str)
        and isinstance(r[2], str)
        for k in ("version", "inspect", "info")
    )


def probe(
    docker: Docker,
    name: str | None,
    environ: Mapping[str, str] | None = None,
    ttl: float | None = None,
) -> Environment:
    environ = os.environ if environ is None else environ
    ttl = cachekey.ttl(environ) if ttl is None else ttl
    env = cached(docker, name, environ, ttl)
    if env is not None:
        return env
    raw = _run_probes(docker, name)
    if ttl > 0 and all(v[0] == 0 for v in raw.values()):
        path = _cache_path(docker, name, environ)
        kept = {k: [v[0], _kept(str(v[1])), v[2]] for k, v in raw.items()}
        cachekey.write_atomic(str(path), json.dumps({"at": time.time(), "raw": kept}))
    found = interpret(raw)
    locator.remember(docker.binary, found.engine.buildx_path, environ)
    return found


def _kept(text: str) -> str:
    """A probe's output as its cache keeps it: without the builder's driver options (an
    `env.AWS_SECRET_ACCESS_KEY=...` for BuildKit's cache, a proxy's password), which
    `interpret` does not read and the cache must not keep."""
    return "\n".join(
        f"{line.partition(':')[0]}: (not kept)"
        if line.strip().lower().startswith("driver options:")
        else line
        for line in text.splitlines()
    )


def _run_probes(docker: Docker, name: str | None) -> dict[str, list[object]]:
    inspect = ["buildx", "inspect", *([name] if name else [])]
    cmds = {
        "version": ["buildx", "version"],
        "inspect": inspect,
        "info": ["info", "--format", INFO_FORMAT],
    }
    # at once, and through docker itself, always: these say what `docker buildx` is
    outs = map_bounded(lambda v: docker.capture(v, 20, direct=False), cmds.values(), len(cmds))
    results: dict[str, Result] = dict(zip(cmds, outs, strict=True))
    return {k: [r.code, r.stdout, r.stderr] for k, r in results.items()}


def interpret(raw: Mapping[str, list[object]]) -> Environment:
    problems: list[str] = []

    def out(k: str) -> str:
        code, stdout, stderr = raw[k]
        if code != 0:
            problems.append(f"`docker {k}` exited {code}: {str(stderr).strip()[:300]}")
            return ""
        return str(stdout)

    version = parse_buildx_version(out("version"))
    builder = parse_inspect(out("inspect"))
    info = out("info")
    engine = parse_info(info) if info else EngineInfo(None)
    return Environment(version, builder, engine, tuple(problems))
