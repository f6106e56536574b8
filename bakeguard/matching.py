"""The advisories matched against what the probe and the resolved definition say (the facts).
Three-valued: a condition that cannot be evaluated (an unknown buildx version, an unknown
image store) makes the match "cannot tell", never "safe"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from bakeguard.advisories import Advisory


@dataclass(frozen=True)
class Facts:
    """What is known when matching; None = unknown."""

    version: Version | None
    driver: str | None = None
    containerd_store: bool | None = None
    nodes: int | None = None
    buildkit: tuple[Version | None, ...] = ()  # per node (bakeguard.engines)
    engine: Version | None = None  # the docker engine's release
    push: bool | None = None
    max_platforms: int | None = None
    outputs: tuple[Mapping[str, str], ...] | None = None
    attestations: bool | None = None
    # a pushing output leaves the attestations' form to BuildKit (no `oci-artifact`)
    oci_artifact_default: bool | None = None
    load_and_push: bool = False
    compose: bool = False
    imagetools: bool = False


@dataclass(frozen=True)
class Match:
    advisory: Advisory
    certain: bool  # False: "cannot tell" (an unknown fact could make it apply)
    unknown: tuple[str, ...] = field(default_factory=tuple)


# each key of an advisory and of its [advisory.when] table: (kind, what it must be)


def facts_version(v: str | None) -> Version | None:
    """A BuildKit version as nodes report it: v0.34.2 -> 0.34.2; a dev build (v0.0.0+unknown,
    as Debian's engine reports its BuildKit) or anything unreadable -> None (unknown)."""
    if not v:
        return None
    try:
        found = Version(v.lstrip("v").split("+")[0].split("-")[0])
    except InvalidVersion:
        return None
    return None if found == Version("0.0.0") else found


def _check(key: str, want: Any, f: Facts) -> bool | None:
    """One condition: True, False, or None when the fact is unknown."""
    if key == "drivers":
        return None if f.driver is None else f.driver in want
    if key == "containerd_store":
        return None if f.containerd_store is None else f.containerd_store == bool(want)
    if key == "push":
        return None if f.push is None else f.push == bool(want)
    if key == "min_platforms":
        return None if f.max_platforms is None else f.max_platforms >= int(want)
    if key == "multi_node":
        return None if f.nodes is None else (f.nodes > 1) == bool(want)
    if key == "attestations":
        return None if f.attestations is None else f.attestations == bool(want)
    if key == "load_and_push":
        return f.load_and_push == bool(want)
    if key == "compose":
        return f.compose == bool(want)
    if key == "imagetools":
        return f.imagetools == bool(want)
    if key == "outputs":
        if f.outputs is None:
            return None
        return any(
            all(
                (k in o) if v == "*" else (o.get(k, "").lower() == str(v).lower())
                for k, v in want.items()
            )
            for o in f.outputs
        )
    if key == "oci_artifact_default":
        return None if f.oci_artifact_default is None else f.oci_artifact_default == bool(want)
    if key == "buildkit":
        # some node in range: yes; else a node of unknown version: cannot tell
        spec = SpecifierSet(str(want))
        if any(spec.contains(v, prereleases=True) for v in f.buildkit if v is not None):
            return True
        return None if not f.buildkit or None in f.buildkit else False
    if key == "engine":
        return None if f.engine is None else SpecifierSet(str(want)).contains(f.engine, True)
    return None  # pragma: no cover - _parse rejects unknown keys


def match(table: Sequence[Advisory], facts: Facts) -> list[Match]:
    out: list[Match] = []
    for adv in table:
        unknown: list[str] = []
        if facts.version is None:
            unknown.append("buildx version")
        elif not adv.affected.contains(facts.version, prereleases=True):
            continue
        ok = True
        for key, want in adv.when.items():
            res = _check(key, want, facts)
            if res is False:
                ok = False
                break
            if res is None:
                unknown.append(key)
        if ok:
            out.append(Match(adv, certain=not unknown, unknown=tuple(unknown)))
    return out
