"""The advisory data: data/advisories.toml plus the files in BAKEGUARD_ADVISORIES, each
entry checked key by key, and a JSON cache of the parsed table. bakeguard.matching matches
it against what the probe and the resolved definition say."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

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
    "engine",
    "oci_artifact_default",
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


FIELDS = {
    "id": ("text", "a non-empty string"),
    "title": ("text", "a non-empty string"),
    "level": ("str", f"one of {', '.join(LEVELS)}"),
    "affected": ("str", 'a PEP 440 specifier string, e.g. ">=0.9,<0.22"'),
    "fixed": ("str", 'a string, e.g. "0.22.0"'),
    "mitigation": ("str", f"one of {', '.join(MITIGATIONS)}"),
    "symptom": ("text", "a non-empty string"),
    "fix": ("text", "a non-empty string"),
    "references": ("strs", 'a list of strings, e.g. ["https://..."]'),
    "confidence": ("str", 'a string ("confirmed" or "reported")'),
    "when": ("table", "a table of conditions ([advisory.when])"),
}
REQUIRED = ("id", "title", "affected", "mitigation", "symptom", "fix", "references")
CONDITION_TYPES = {
    "drivers": ("strs", 'a list of driver names, e.g. ["docker"]'),
    "containerd_store": ("bool", "true or false"),
    "push": ("bool", "true or false"),
    "min_platforms": ("count", "a whole number, e.g. 2"),
    "multi_node": ("bool", "true or false"),
    "outputs": ("attrs", 'a table of output attributes, e.g. { annotation = "*" }'),
    "attestations": ("bool", "true or false"),
    "load_and_push": ("bool", "true or false"),
    "compose": ("bool", "true or false"),
    "imagetools": ("bool", "true or false"),
    "buildkit": ("str", 'a PEP 440 specifier string, e.g. "<0.12"'),
    "engine": ("str", 'a PEP 440 specifier string, e.g. ">=29.7.0,<29.7.3"'),
    "oci_artifact_default": ("bool", "true or false"),
}
assert set(CONDITION_TYPES) == CONDITIONS


def _fits(kind: str, value: Any) -> bool:
    if kind == "text":
        return isinstance(value, str) and bool(value.strip())
    if kind == "str":
        return isinstance(value, str)
    if kind == "strs":
        return isinstance(value, list) and all(isinstance(x, str) for x in value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "count":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind == "table":
        return isinstance(value, Mapping)
    if kind == "attrs":
        return isinstance(value, Mapping) and all(
            isinstance(v, (str, bool)) for v in value.values()
        )
    raise AssertionError(kind)  # pragma: no cover


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse(entry: Any, source: str) -> Advisory:
    if not isinstance(entry, Mapping):
        raise UsageError(
            f"{source}: an advisory must be a table ([[advisory]]), not {_shown(entry)}",
            "write each advisory as a [[advisory]] table",
        )
    aid = entry.get("id")
    where = f"{source}: advisory {aid if isinstance(aid, str) and aid else '?'!r}"
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise UsageError(f"{where}: unknown key `{unknown[0]}`", f"known keys: {', '.join(FIELDS)}")
    for key in REQUIRED:
        if key not in entry:
            raise UsageError(f"{where} lacks `{key}`", "see the fields documented in the file")
    for key, value in entry.items():
        kind, what = FIELDS[key]
        if not _fits(kind, value):
            raise UsageError(
                f"{where}: `{key}` must be {what}, not {_shown(value)}",
                f"write `{key}` as {what}",
            )
    try:
        spec = SpecifierSet(entry["affected"])
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
    unknown = sorted(set(when) - CONDITIONS)
    if unknown:
        raise UsageError(
            f"{where}: unknown conditions {unknown}",
            f"conditions are: {', '.join(sorted(CONDITIONS))}",
        )
    for key, value in when.items():
        kind, what = CONDITION_TYPES[key]
        if not _fits(kind, value):
            raise UsageError(
                f"{where}: condition `{key}` must be {what}, not {_shown(value)}",
                f"write `{key}` in [advisory.when] as {what}",
            )
    for key, example in (("buildkit", "<0.12"), ("engine", ">=29.7.0,<29.7.3")):
        try:
            SpecifierSet(when.get(key, ""))
        except InvalidSpecifier as e:
            raise UsageError(
                f"{where}: bad `{key}` condition: {e}", f"use PEP 440, e.g. {example}"
            ) from e
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


CACHE_SCHEMA = "bakeguard-advisories-cache/1"


def _read_cached(path: str, text_hash: str, source: str) -> list[Advisory] | None:
    """A table kept by `parse_table`; None when it is missing or anything but what was
    written for this very text (a damaged cache file is a miss, rewritten from the TOML)."""
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except (OSError, ValueError):
        return None
    if not (
        isinstance(doc, dict)
        and doc.get("schema") == CACHE_SCHEMA
        and doc.get("text") == text_hash
        and isinstance(doc.get("advisory"), list)
    ):
        return None
    try:
        return [_parse(e, source) for e in doc["advisory"]]
    except UsageError:
        return None


def parse_table(text: str, source: str, environ: Mapping[str, str] | None = None) -> list[Advisory]:
    """A table's advisories. With `environ`, the parsed TOML is kept as JSON in bakeguard's
    cache folder, by the text's hash: the full path reads the table on every run, and JSON
    loads in a fraction of tomllib's import and parse."""
    cached = None
    if environ is not None and cachekey.ttl(environ) > 0:
        import hashlib

        text_hash = hashlib.sha256(text.encode()).hexdigest()
        # (a name of its own: bakeguard before this format reads advisories-HASH.json as a
        # bare list, and may share this cache folder)
        cached = os.path.join(cachekey.cache_dir(environ), f"advisories-2-{text_hash[:24]}.json")
        found = _read_cached(cached, text_hash, source)
        if found is not None:
            return found
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{source}: not valid TOML: {e}", "fix the advisory file") from e
    extra = sorted(set(doc) - {"advisory"})
    if extra:
        raise UsageError(
            f"{source}: unknown top-level key `{extra[0]}`",
            "an advisory file holds only [[advisory]] tables",
        )
    entries = doc.get("advisory", [])
    if not isinstance(entries, list):
        raise UsageError(
            f"{source}: `advisory` must be an array of tables, not {_shown(entries)}",
            "write each advisory as a [[advisory]] table",
        )
    table = [_parse(e, source) for e in entries]  # raises on a bad entry
    if cached is not None:
        kept = {"schema": CACHE_SCHEMA, "text": text_hash, "advisory": entries}
        with contextlib.suppress(OSError, TypeError, ValueError):
            cachekey.write_atomic(cached, json.dumps(kept))
    return table


def _read_table(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(
            f"{what}: cannot read {path}: {e.strerror}",
            "point BAKEGUARD_ADVISORIES at a readable TOML file",
        ) from e
    except UnicodeDecodeError as e:
        raise UsageError(
            f"{what}: {path} is not UTF-8 text ({e.reason} at byte {e.start})",
            "point BAKEGUARD_ADVISORIES at a TOML file (UTF-8 text)",
        ) from e


def load(environ: Mapping[str, str] | None = None) -> list[Advisory]:
    environ = os.environ if environ is None else environ
    table = parse_table(Path(cachekey.BUILTIN_TABLE).read_text(), "builtin", environ)
    extra = environ.get("BAKEGUARD_ADVISORIES")
    if extra:
        for path in filter(None, extra.split(os.pathsep)):
            user = parse_table(_read_table(path, "BAKEGUARD_ADVISORIES"), path, environ)
            ids = {a.id for a in user}
            table = [a for a in table if a.id not in ids] + user
    return table
