"""Shards' digest files (`--guard-shard` writes one per platform; `--guard-merge` reads a
folder of them): the format, and its reading, checked key by key. A file names the
attestations its platform's push carries (`attestations`, and `attestations_dropped` when a
profile pushed without them), so that the merge proves its index kept them; a file without
them (an older bakeguard's) asks for none."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakeguard.definition import Target
from bakeguard.errors import UsageError
from bakeguard.platforms import normalize, suffix
from bakeguard.split.plan import SplitPlan, index_annotations
from bakeguard.text import is_one_line

if TYPE_CHECKING:  # (the registry package loads only after the bake)
    from bakeguard.registry.attest import Wanted

SHARD_SCHEMA = "bakeguard-digest/1"
KINDS = ("provenance", "sbom")  # bakeguard.registry.attest.KINDS (a test keeps them one)


DIGEST_KEYS = {
    "target": "the target's name",
    "platform": "a platform (os/arch[/variant])",
    "platforms": "a list of the target's platforms",
    "source": "the pushed image by digest (NAME@sha256:...)",
    "refs": "a list of the tags to write",
}


_DIGEST_FIX = (
    "re-run that shard (bakeguard --push --guard-shard PLATFORM --guard-digests DIR), "
    "or copy the shard's --guard-digests folder again"
)


def _digest_error(f: Path, what: str) -> UsageError:
    return UsageError(f"--guard-merge: {f}: {what}", _DIGEST_FIX)


def _is_digest_ref(value: str) -> bool:
    name, at, digest = value.partition("@")
    algo, colon, hex_ = digest.partition(":")
    hex_ok = len(hex_) == 64 and all(c in "0123456789abcdef" for c in hex_)
    return bool(name and at and algo == "sha256" and colon and hex_ok)


def read_digest_file(f: Path) -> dict[str, Any] | None:
    """One shard's digest file, checked key by key (None: a JSON object of another kind)."""
    try:
        doc = json.loads(f.read_bytes())
    except OSError as e:
        raise _digest_error(f, f"cannot be read: {e.strerror}") from None
    except ValueError as e:  # (not UTF-8 is a ValueError too)
        raise _digest_error(f, f"is not JSON: {e}") from None
    if not isinstance(doc, dict):
        kind = {list: "a JSON list", type(None): "null"}.get(type(doc), type(doc).__name__)
        raise _digest_error(f, f"is {kind}, not a bakeguard digest file ({SHARD_SCHEMA})")
    schema = doc.get("schema")
    if schema != SHARD_SCHEMA:
        if isinstance(schema, str) and schema.startswith("bakeguard-digest/"):
            raise UsageError(
                f"--guard-merge: {f} is a digest file of schema {schema}, which this "
                f"bakeguard (reading {SHARD_SCHEMA}) does not know",
                "merge with the bakeguard version the shards ran",
            )
        return None
    for key, what in DIGEST_KEYS.items():
        value = doc.get(key)
        if key not in doc:
            raise _digest_error(f, f"lacks `{key}` ({what})")
        if key in ("platforms", "refs"):
            ok = (
                bool(value)
                and isinstance(value, list)
                and all(isinstance(x, str) and x for x in value)
            )
        elif key == "source":
            ok = isinstance(value, str) and _is_digest_ref(value)
        else:
            ok = isinstance(value, str) and bool(value)
        if not ok:
            raise _digest_error(f, f"`{key}` must be {what}, not {json.dumps(value)[:80]}")
    annotations = doc.setdefault("annotations", [])
    if not isinstance(annotations, list) or not all(isinstance(a, str) for a in annotations):
        raise _digest_error(f, f"`annotations` must be a list of strings, not {annotations!r}")
    kinds = doc.setdefault("attestations", [])
    if not isinstance(kinds, list) or not all(k in KINDS for k in kinds):
        raise _digest_error(
            f, f"`attestations` must be a list of {' / '.join(KINDS)}, not {kinds!r}"[:200]
        )
    dropped = doc.setdefault("attestations_dropped", None)
    if dropped is not None and not (isinstance(dropped, str) and is_one_line(dropped, 200)):
        raise _digest_error(f, "`attestations_dropped` must be one line of text, or null")
    doc["platform"] = normalize(doc["platform"])
    doc["platforms"] = list(dict.fromkeys(normalize(p) for p in doc["platforms"]))
    if doc["platform"] not in doc["platforms"]:
        raise _digest_error(
            f, f"`platform` {doc['platform']} is not one of `platforms` {doc['platforms']}"
        )
    return doc


def read_digest_files(where: Path, log: Any) -> dict[str, list[tuple[Path, dict[str, Any]]]]:
    """Every shard's digest file in `where`, by target; checked whole before anything is
    assembled (a file that cannot be what a shard wrote stops the merge: exit 2)."""
    if not where.is_dir():
        raise UsageError(
            f"--guard-merge: {where} is not a folder",
            "give the folder holding the shards' --guard-digests files",
        )
    files = sorted(where.glob("*.json"))
    by_target: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
    other: list[str] = []
    for f in files:
        doc = read_digest_file(f)
        if doc is None:
            other.append(f.name)
        else:
            by_target.setdefault(doc["target"], []).append((f, doc))
    if not by_target:
        others = f"; its JSON files ({', '.join(other[:5])}) are not" if other else ""
        raise UsageError(
            f"--guard-merge: no bakeguard digest file (JSON with schema {SHARD_SCHEMA}) in "
            f"{where}{others}",
            "copy every shard's --guard-digests folder there first "
            "(bakeguard --push --guard-shard PLATFORM --guard-digests DIR writes them)",
        )
    if other:
        log.warning(
            f"--guard-merge: ignoring {', '.join(other)} in {where}: not bakeguard digest "
            f"files (schema {SHARD_SCHEMA})"
        )
    for target, found in by_target.items():
        (f0, d0) = found[0]
        seen: dict[str, tuple[Path, str]] = {}
        for f, d in found:
            for key in ("platforms", "refs", "annotations"):
                if d[key] != d0[key]:
                    raise UsageError(
                        f"--guard-merge: the digest files of target {target} disagree on "
                        f"`{key}`: {f0} has {d0[key]}, {f} has {d[key]}",
                        "re-run every shard of the same commit and arguments, "
                        "then merge their digest files only",
                    )
            first = seen.setdefault(d["platform"], (f, d["source"]))
            if first[1] != d["source"]:
                raise UsageError(
                    f"--guard-merge: two digest files of target {target} push "
                    f"{d['platform']}: {first[0]} ({first[1]}) and {f} ({d['source']})",
                    "keep the digest file of the shard run you want, remove the other",
                )
    return by_target


def wanted(docs: Sequence[Mapping[str, Any]]) -> Wanted:
    """The attestations a merged index must keep on every platform: the kinds every shard's
    push carried (shards on builders that differ, one without buildx's default provenance
    say, ask only for what all of them made)."""
    from bakeguard.registry.attest import Wanted

    kinds = [k for k in KINDS if all(k in d["attestations"] for d in docs)]
    dropped = next((d["attestations_dropped"] for d in docs if d["attestations_dropped"]), None)
    return Wanted(tuple(kinds), dropped)


def write_digest_files(
    plan: SplitPlan,
    where: str,
    sources: Mapping[str, str],
    log: Any,
    attest: Callable[[Target], Wanted] | None = None,
) -> None:
    """--guard-shard: one small JSON file per pushed platform (`sources`: each variant's
    image by digest; `attest`: the attestations its push carries), for --guard-merge."""
    os.makedirs(where, exist_ok=True)
    for v in plan.variants:
        t = plan.split_targets[v.target]
        want = attest(t) if attest is not None else None
        doc = {
            "schema": SHARD_SCHEMA,
            "target": v.target,
            "platform": v.platform,
            "platforms": list(t.normalized_platforms),
            "source": sources[v.name],
            "refs": list(t.tag_refs),
            "annotations": index_annotations(t),
            "attestations": list(want.kinds) if want else [],
            "attestations_dropped": want.dropped if want else None,
        }
        name = f"{v.target}{suffix(v.platform, '-{os}-{arch}{variant}')}.json"
        Path(where, name).write_text(json.dumps(doc, indent=2))
        log.info(f"shard: {v.target} {v.platform} -> {doc['source']}")
