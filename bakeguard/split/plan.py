"""The split's plan: the generated definition, every multi-platform pushing target cut into one
target per platform (pushed by digest, or to per-platform tags on the docker driver), with
each registry's compatibility profile applied."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from bakeguard.compat import OUTPUT_ATTRS, Compat
from bakeguard.compat import apply as apply_profile
from bakeguard.definition import Definition, Target
from bakeguard.platforms import check_split_tags, normalize, suffix
from bakeguard.probe import Environment
from bakeguard.refs import Reference

BY_DIGEST_DRIVERS = ("remote", "docker-container", "kubernetes")


# From this buildx on, bake on the docker driver no longer pushes a second time through the
# engine (buildx PR #3023), so the per-platform images need not be stored in the engine:
# `store=false` skips naming and unpacking them there (work on every push, more with big
# layers) and leaves no intermediate per-platform tags in the user's image list.
NO_ENGINE_PUSH_SINCE = Version("0.22.0")


PUSH_ATTRS = ("type", "name", "push", "push-by-digest", "name-canonical")


@dataclass(frozen=True)
class Variant:
    target: str  # the original target
    name: str  # the generated target's name
    platform: str
    repos: tuple[str, ...]  # repositories it pushes to (by digest) or the per-platform tags
    tags: tuple[str, ...] = ()  # docker driver: per-platform tags


@dataclass
class SplitPlan:
    definition: dict[str, Any]
    variants: list[Variant]
    split_targets: dict[str, Target]
    other_targets: list[str]
    by_digest: bool


def _csv(attrs: Mapping[str, str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([f"{k}={v}" for k, v in attrs.items()])
    return buf.getvalue()


def repo_of(ref: str) -> str:
    r = Reference.parse(ref)
    return f"{r.registry}/{r.repository}"


def _unique(name: str, taken: set[str]) -> str:
    out, n = name, 2
    while out in taken:
        out, n = f"{name}-{n}", n + 1
    taken.add(out)
    return out


def engine_pushes(env: Environment) -> bool:
    """Whether bake on this builder pushes a second time through the engine (advisory
    docker-driver-double-push), whose failure follows BuildKit's successful push; an
    unknown buildx version may."""
    if env.driver != "docker":
        return False
    return env.buildx.version is None or env.buildx.version < NO_ENGINE_PUSH_SINCE


def plan_outputs(env: Environment) -> tuple[bool, bool]:
    """(push by digest?, store per-platform images in the engine?) for this builder."""
    if env.driver in BY_DIGEST_DRIVERS:
        return True, True
    fixed = env.buildx.version is not None and env.buildx.version >= NO_ENGINE_PUSH_SINCE
    return False, not (env.driver == "docker" and fixed)


def make_plan(
    defn: Definition,
    by_digest: bool,
    suffix_template: str,
    only_platforms: Sequence[str] | None = None,
    per_platform: bool = True,
    compat: Compat | None = None,
    store: bool = True,
) -> SplitPlan:
    """The generated definition: multi-platform pushing targets split per platform (when
    `per_platform`), every pushing target with its registry's compatibility profile applied."""
    compat = compat or Compat()
    targets: dict[str, Any] = {}
    variants: list[Variant] = []
    split_targets: dict[str, Target] = {}
    others: list[str] = []
    taken = set(defn.targets)
    for t in defn.targets.values():
        profile = compat.for_target(t) if t.pushes else None
        if not (per_platform and t.pushes and len(t.platforms) > 1 and t.tag_refs):
            if only_platforms is None:
                targets[t.name] = apply_profile(t.raw, profile)
                others.append(t.name)
            continue
        split_targets[t.name] = t
        if not by_digest:  # per-platform tags: each must be one of its own, and valid
            check_split_tags(suffix_template, t.name, t.tag_refs[0], t.platforms)
        pushing = [o for o in t.outputs if o.pushes]
        extra = {k: v for k, v in pushing[0].attrs.items() if k not in PUSH_ATTRS}
        extra.update(OUTPUT_ATTRS.get(profile or "", {}))
        for plat in t.platforms:
            if only_platforms is not None and normalize(plat) not in only_platforms:
                continue
            sfx = suffix(plat, suffix_template)
            # bake allows only [a-zA-Z0-9_-] in a target's name; a tag allows '.' too
            name = _unique(re.sub(r"[^a-zA-Z0-9_-]", "-", f"{t.name}{sfx}"), taken)
            raw = {
                k: v
                for k, v in apply_profile(t.raw, profile).items()
                if k not in ("output", "tags", "platforms")
            }
            raw["platforms"] = [plat]
            repos = tuple(dict.fromkeys(repo_of(r) for r in t.tag_refs))
            if by_digest:
                attrs = {
                    "type": "image",
                    "name": ",".join(repos),
                    "push-by-digest": "true",
                    "name-canonical": "true",
                    "push": "true",
                    **extra,
                }
                raw["output"] = [_csv(attrs)]
                variants.append(Variant(t.name, name, normalize(plat), repos))
            else:
                tag = f"{t.tag_refs[0]}{sfx}"
                raw["tags"] = [tag]
                attrs = {"type": "image", "push": "true", **extra}
                if not store:
                    attrs.setdefault("store", "false")
                raw["output"] = [_csv(attrs)]
                variants.append(Variant(t.name, name, normalize(plat), (repo_of(tag),), (tag,)))
            targets[name] = raw
    gen = {"group": {"default": {"targets": list(targets)}}, "target": targets}
    return SplitPlan(gen, variants, split_targets, others, by_digest)


def index_annotations(t: Target) -> list[str]:
    out = []
    for a in t.raw.get("annotations") or []:
        key = str(a).split("=", 1)[0]
        if key.startswith("index") and ":" in key:
            out.append(str(a))
    return out
