"""The BuildKit version each node runs, as advisories match it: the node's own report, or on
the `docker` driver, where the engine's built-in BuildKit reports `v0.0.0+unknown` (engines
built without Go module information: moby's own 25.x-28.x builds, Debian's), the BuildKit the
engine's release builds in, from data/engine-buildkit.json (read from each moby release tag's
vendor.mod / go.mod). "Cannot tell" only where neither says.

No REST endpoint of the engine names its BuildKit (`/version` lists Engine, containerd, runc
and docker-init; `/info` none: moby daemon/info.go); buildx reads it over BuildKit's own
control API (`Info`), which reports what `debug.ReadBuildInfo` found when the engine was
built (moby builder-next/worker/worker.go, since v25.0.0)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from bakeguard import cachekey
from bakeguard.matching import facts_version
from bakeguard.probe import Environment, Node

TABLE = cachekey.ENGINE_TABLE


@dataclass(frozen=True)
class NodeBuildKit:
    """A node's BuildKit as advisories match it."""

    version: str | None  # e.g. "v0.25.2"; None: cannot tell
    source: str | None  # "node" (its own report) | "engine" (its release's); None
    why: str = ""  # how it was found, or why it cannot be told


def engine_version(raw: str | None) -> Version | None:
    """The engine's version as `docker info` gives it (`28.5.2`, a distribution's
    `28.5.2+dfsg4`, `29.7.0-rc.1`); None when it is not a release number (a dev build)."""
    if not raw or not raw.strip():
        return None
    try:
        return Version(raw.strip().removeprefix("v"))
    except InvalidVersion:
        return None


@functools.lru_cache(maxsize=1)
def _table() -> tuple[tuple[SpecifierSet, str], ...]:
    """(engine releases, the BuildKit they build in); a damaged row is skipped (the
    package's own data: a test checks every row)."""
    try:
        with open(TABLE, "rb") as f:
            doc = json.loads(f.read())
    except (OSError, ValueError):
        return ()
    rows = doc.get("engines") if isinstance(doc, dict) else None
    out = []
    for row in rows if isinstance(rows, list) else []:
        try:
            out.append((SpecifierSet(str(row["engine"])), str(row["buildkit"])))
        except (InvalidSpecifier, KeyError, TypeError):
            continue
    return tuple(out)


def vendored(raw: str | None) -> str | None:
    """The BuildKit the engine release `raw` builds in; None when the table has no row
    for it (release candidates and dev builds included)."""
    version = engine_version(raw)
    if version is None or version.is_prerelease or version.is_devrelease:
        return None
    public = Version(version.public)  # (a distribution's +dfsg4 is the same release)
    return next((bk for spec, bk in _table() if public in spec), None)


def node_buildkit(env: Environment, node: Node) -> NodeBuildKit:
    if facts_version(node.buildkit) is not None:
        return NodeBuildKit(node.buildkit, "node", "as the node reports it")
    if env.driver != "docker":
        reported = node.buildkit or "nothing"
        return NodeBuildKit(None, None, f"the node reports {reported}")
    engine = env.engine.version
    if engine is None:
        return NodeBuildKit(None, None, "the engine's version is unknown")
    found = vendored(engine)
    if found is None:
        return NodeBuildKit(
            None, None, f"engine {engine} is not a release bakeguard knows the BuildKit of"
        )
    return NodeBuildKit(found, "engine", f"as engine {engine}'s release builds it in")


def buildkits(env: Environment) -> tuple[NodeBuildKit, ...]:
    nodes = env.builder.nodes if env.builder else ()
    return tuple(node_buildkit(env, n) for n in nodes)
