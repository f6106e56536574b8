"""The guard: facts from the probe and the resolved definition, the matched advisories, the
policy's decision, and the one-paragraph message a user reads in a CI log."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bakeguard.advisories import Advisory
from bakeguard.bakeargs import BakeArgs
from bakeguard.definition import Definition
from bakeguard.matching import Facts, Match, facts_version, match
from bakeguard.memo import uses_compose
from bakeguard.options import GuardOptions
from bakeguard.probe import Environment


def facts(
    env: Environment,
    defn: Definition | None,
    bake: BakeArgs,
    imagetools: bool = False,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Facts:
    environ = os.environ if environ is None else environ
    nodes = env.builder.nodes if env.builder else ()
    pushing = defn.pushing if defn else None
    atts: bool | None = None
    if pushing:
        vals = [t.attestations for t in pushing]
        atts = True if any(v is True for v in vals) else (None if None in vals else False)
    return Facts(
        version=env.buildx.version,
        driver=env.driver,
        containerd_store=env.containerd_store,
        nodes=len(nodes) if env.builder else None,
        buildkit=tuple(facts_version(n.buildkit) for n in nodes),
        push=None if pushing is None else bool(pushing),
        max_platforms=None
        if pushing is None
        else max((len(t.platforms) for t in pushing), default=0),
        outputs=None
        if pushing is None
        else tuple(o.attrs for t in pushing for o in t.outputs if o.pushes),
        attestations=atts,
        load_and_push=bake.flag_set("--load") and bake.flag_set("--push"),
        compose=uses_compose(bake, environ, str(cwd or Path.cwd())),
        imagetools=imagetools,
    )


def actionable(matches: Sequence[Match]) -> list[Match]:
    """What a build run reports: info-level entries (behaviour notes) only show in doctor/plan."""
    return [m for m in matches if m.advisory.level != "info"]


@dataclass(frozen=True)
class Decision:
    matches: tuple[Match, ...]
    per_platform: bool  # split: each platform pushed on its own
    reason: str = ""  # why it splits
    refuse: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
    # targets whose declared platforms the print lost, built from a generated definition
    declared: tuple[str, ...] = ()


def decide(
    opts: GuardOptions,
    table: Sequence[Advisory],
    env: Environment,
    defn: Definition | None,
    bake: BakeArgs,
) -> Decision:
    matched = actionable(match(table, facts(env, defn, bake)))
    splittable = bool(defn) and any(len(t.platforms) > 1 for t in defn.pushing)  # type: ignore[union-attr]
    split, reason = False, ""
    if opts.split == "always":
        split, reason = splittable, "--guard-split=always"
    elif opts.split == "auto" and opts.guard == "auto":
        wants = [m for m in matched if m.advisory.mitigation == "split" and m.certain]
        if wants and splittable:
            split, reason = True, f"advisory {wants[0].advisory.id}"
    if split:  # the split runs imagetools create: its own advisories apply too
        seen = {m.advisory.id for m in matched}
        more = actionable(match(table, facts(env, defn, bake, imagetools=True)))
        matched += [m for m in more if m.advisory.id not in seen]
    refuse = opts.guard == "strict" and any(m.advisory.level == "error" for m in matched)
    declared = tuple(defn.corrected) if defn is not None and opts.guard == "auto" else ()
    return Decision(tuple(matched), split, reason, refuse, declared=declared)


def describe_env(env: Environment) -> str:
    b = env.builder
    where = f'builder "{b.name}" ({b.driver} driver' if b else "builder unknown ("
    if env.driver == "docker":
        store = {
            True: "containerd image store",
            False: "classic image store",
            None: "image store unknown",
        }
        where += f", {store[env.containerd_store]}"
    if b and len(b.nodes) > 1:
        where += f", {len(b.nodes)} nodes"
    return f"buildx {env.buildx}, {where})"


def message(m: Match, env: Environment, action: str) -> list[str]:
    a = m.advisory
    head = f"[{a.id}] {a.title}"
    if not m.certain:
        head += f" (cannot tell: {', '.join(m.unknown)} unknown)"
    lines = [
        head,
        f"  detected: {describe_env(env)}",
        f"  risk: {a.symptom}",
        f"  see: {' '.join(a.references)}",
        f"  bakeguard: {action}",
        f"  lasting fix: {a.fix}",
    ]
    return lines


def action_for(opts: GuardOptions, m: Match, decision: Decision) -> str:
    if decision.refuse:
        return "refusing to build (--guard=strict); nothing was pushed"
    if opts.guard == "warn":
        return "building as asked (--guard=warn)" + (
            ", then verifying the pushed tags" if opts.verify else ""
        )
    if m.advisory.mitigation == "platforms" and decision.declared:
        return (
            "building the platforms your compose file declares through a generated "
            "definition, then verifying every pushed tag"
        )
    if decision.per_platform and m.advisory.mitigation in ("split", "verify"):
        if m.advisory.mitigation == "verify":
            return "verifying the assembled tags in the registry"
        return (
            "pushing each platform on its own, then assembling the tag with "
            "imagetools create; verifying it"
        )
    if opts.verify:
        return "building as asked, then verifying every pushed tag in the registry"
    return "building as asked (verification is off)"
