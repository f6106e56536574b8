"""The advisory data (data/advisories.toml plus BAKEGUARD_ADVISORIES) and its matching against
what the probe and the resolved definition say. Three-valued: a condition we cannot evaluate
(an unknown buildx version, an unknown image store) makes the match "cannot tell", never "safe".
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from bakeguard import cachekey
from bakeguard.errors import UsageError

LEVELS = ("error", "warning", "info")
MITIGATIONS = ("split", "verify", "compat", "platforms", "none")
CONDITIONS = {
    "drivers",
    "containerd_store",
    "push",
    "min_platforms",
    "multi_node",
    "outputs",
    "attestations",
    "load_and_push",
    "compose",
    "imagetools",
    "buildkit",
}


@dataclass(frozen=True)
class Advisory:
    id: str
    title: str
    level: str
    affected: SpecifierSet
    fixed: str
    mitigation: str
    symptom: str
    fix: str
    references: tuple[str, ...]
    when: Mapping[str, Any]
    confidence: str = "reported"
    source: str = "builtin"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "level": self.level,
            "affected": str(self.affected),
            "fixed": self.fixed,
            "mitigation": self.mitigation,
            "symptom": self.symptom,
            "fix": self.fix,
            "references": list(self.references),
            "when": dict(self.when),
            "confidence": self.confidence,
            "source": self.source,
        }


@dataclass(frozen=True)
class Facts:
    """What is known when matching; None = unknown."""

    version: Version | None
    driver: str | None = None
    containerd_store: bool | None = None
    nodes: int | None = None
    buildkit: tuple[Version | None, ...] = ()
    push: bool | None = None
    max_platforms: int | None = None
    outputs: tuple[Mapping[str, str], ...] | None = None
    attestations: bool | None = None
    load_and_push: bool = False
    compose: bool = False
    imagetools: bool = False


@dataclass(frozen=True)
class Match:
    advisory: Advisory
    certain: bool  # False: "cannot tell" (an unknown fact could make it apply)
    unknown: tuple[str, ...] = field(default_factory=tuple)


def _parse(entry: Mapping[str, Any], source: str) -> Advisory:
    where = f"{source}: advisory {entry.get('id', '?')!r}"
    for key in ("id", "title", "affected", "mitigation", "symptom", "fix", "references"):
        if key not in entry:
            raise UsageError(f"{where} lacks `{key}`", "see the fields documented in the file")
    try:
        spec = SpecifierSet(str(entry["affected"]))
    except InvalidSpecifier as e:
        raise UsageError(
            f"{where}: bad `affected` specifier: {e}", "use PEP 440, e.g. >=0.9,<0.22"
        ) from e
    level = entry.get("level", "warning")
    if level not in LEVELS or entry["mitigation"] not in MITIGATIONS:
        raise UsageError(
            f"{where}: level must be one of {LEVELS}, mitigation one of {MITIGATIONS}",
            "fix the entry",
        )
    when = dict(entry.get("when") or {})
    unknown = set(when) - CONDITIONS
    if unknown:
        raise UsageError(
            f"{where}: unknown conditions {sorted(unknown)}",
            f"conditions are: {', '.join(sorted(CONDITIONS))}",
        )
    return Advisory(
        id=str(entry["id"]),
        title=str(entry["title"]),
        level=level,
        affected=spec,
        fixed=str(entry.get("fixed", "")),
        mitigation=str(entry["mitigation"]),
        symptom=" ".join(str(entry["symptom"]).split()),
        fix=str(entry["fix"]),
        references=tuple(entry["references"]),
        when=when,
        confidence=str(entry.get("confidence", "reported")),
        source=source,
    )


def parse_table(text: str, source: str, environ: Mapping[str, str] | None = None) -> list[Advisory]:
    """A table's advisories. With `environ`, the parsed TOML is kept as JSON in bakeguard's
    cache folder, by the text's hash: the full path reads the table on every run, and JSON
    loads in a fraction of tomllib's import and parse."""
    cached = None
    if environ is not None and cachekey.ttl(environ) > 0:
        import hashlib

        name = hashlib.sha256(text.encode()).hexdigest()[:24]
        cached = os.path.join(cachekey.cache_dir(environ), f"advisories-{name}.json")
        try:
            with open(cached) as f:
                entries = json.load(f)
            return [_parse(e, source) for e in entries]
        except (OSError, ValueError):
            pass
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{source}: not valid TOML: {e}", "fix the advisory file") from e
    table = [_parse(e, source) for e in doc.get("advisory", [])]  # raises on a bad entry
    if cached is not None:
        with contextlib.suppress(OSError, TypeError, ValueError):  # TypeError: a TOML date
            cachekey.write_atomic(cached, json.dumps(doc.get("advisory", [])))
    return table


def load(environ: Mapping[str, str] | None = None) -> list[Advisory]:
    environ = os.environ if environ is None else environ
    table = parse_table(Path(cachekey.BUILTIN_TABLE).read_text(), "builtin", environ)
    extra = environ.get("BAKEGUARD_ADVISORIES")
    if extra:
        for path in extra.split(os.pathsep):
            try:
                user = parse_table(Path(path).read_text(), path, environ)
            except OSError as e:
                raise UsageError(
                    f"BAKEGUARD_ADVISORIES: cannot read {path}: {e.strerror}",
                    "point BAKEGUARD_ADVISORIES at a readable TOML file",
                ) from e
            ids = {a.id for a in user}
            table = [a for a in table if a.id not in ids] + user
    return table


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
    if key == "buildkit":
        if not f.buildkit or any(v is None for v in f.buildkit):
            return None
        spec = SpecifierSet(str(want))
        return any(v in spec for v in f.buildkit if v is not None)
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
