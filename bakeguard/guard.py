"""The guard: facts from the probe and the resolved definition, the matched advisories, the
policy's decision, and the one-paragraph message a user reads in a CI log."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

from bakeguard import engines
from bakeguard.advisories import Advisory
from bakeguard.bakeargs import BakeArgs
from bakeguard.definition import Definition, Target
from bakeguard.matching import Facts, Match, facts_version, match
from bakeguard.memo import uses_compose
from bakeguard.options import GuardOptions
from bakeguard.probe import Environment

# Go's strconv.ParseBool, as buildx reads its BUILDX_NO_DEFAULT_* variables (any other value
# fails the build)
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _go_bool(environ: Mapping[str, str], name: str) -> bool | None:
    """The variable as buildx reads it: unset is False, a value it refuses None."""
    value = environ.get(name)
    if value is None or value in _GO_FALSE:
        return False
    return True if value in _GO_TRUE else None


def _since(env: Environment, release: str) -> bool | None:
    """Is this buildx `release` or newer (None: its version is unknown)?"""
    v = env.buildx.version
    return None if v is None else v >= Version(release)


def default_attestations(env: Environment, environ: Mapping[str, str]) -> bool | None:
    """Does buildx add its default provenance to a target that asks for no attestation?
    buildx >= 0.10 does, when the builder can store attestations (not the docker driver's
    classic image store) and, from 0.11, unless BUILDX_NO_DEFAULT_ATTESTATIONS is true
    (docker/buildx v0.36.1 build/opt.go: `attest:provenance` = `mode=min,inline-only=true`
    when `supportAttestations`)."""
    since = _since(env, "0.10.0")
    if not since or env.driver is None:
        return None if since is None or env.driver is None else False
    if env.driver == "docker" and env.containerd_store is not True:
        return None if env.containerd_store is None else False
    off = _go_bool(environ, "BUILDX_NO_DEFAULT_ATTESTATIONS")
    if off is None:
        return None  # (buildx refuses the value: the build fails)
    reads = _since(env, "0.11.0")
    if off and reads is not False:
        return None if reads is None else False
    return True


def oci_artifact_default(
    env: Environment, pushing: Sequence[Target], environ: Mapping[str, str]
) -> bool | None:
    """Does a pushing output leave the attestations' form to BuildKit (>= 0.32: OCI
    artifacts)? Not when it sets `oci-artifact`, nor under BUILDX_NO_DEFAULT_OCI_ARTIFACT=true
    on buildx >= 0.36.1, which sets oci-artifact=false where it is not set (PR #3991)."""
    if not any("oci-artifact" not in o.attrs for t in pushing for o in t.outputs if o.pushes):
        return False
    escape = _go_bool(environ, "BUILDX_NO_DEFAULT_OCI_ARTIFACT")
    if not escape:  # (None: a value buildx refuses, and the build fails before any push)
        return True
    reads = _since(env, "0.36.1")
    return None if reads is None else not reads


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
        default = default_attestations(env, environ)
        vals = [default if t.attestations is None else t.attestations for t in pushing]
        atts = True if any(v is True for v in vals) else (None if None in vals else False)
    return Facts(
        version=env.buildx.version,
        driver=env.driver,
        containerd_store=env.containerd_store,
        nodes=len(nodes) if env.builder else None,
        buildkit=tuple(facts_version(n.version) for n in engines.buildkits(env)),
        engine=engines.engine_version(env.engine.version),
        push=None if pushing is None else bool(pushing),
        max_platforms=None
        if pushing is None
        else max((len(t.platforms) for t in pushing), default=0),
        outputs=None
        if pushing is None
        else tuple(o.attrs for t in pushing for o in t.outputs if o.pushes),
        attestations=atts,
        oci_artifact_default=None
        if pushing is None
        else oci_artifact_default(env, pushing, environ),
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
        if env.engine.version:
            where += f", engine {env.engine.version}"
    known = dict.fromkeys(k.version for k in engines.buildkits(env) if k.version)
    if known:
        where += f", BuildKit {', '.join(known)}"
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
