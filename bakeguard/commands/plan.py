"""`--guard-plan`: a dry run. Prints targets x platforms x tags, the mode bakeguard would
choose and the commands it would run; runs no build. Resolves through `bake --print` when
docker can, else reads the compose/HCL/JSON files offline (bakeguard.hcl, bake's semantics)
and names what it cannot read, with its file and line."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from bakeguard import advisories, guard
from bakeguard.definition import Definition
from bakeguard.errors import UsageError
from bakeguard.hcl import Refusal, Request, read
from bakeguard.probe import Environment
from bakeguard.text import emit

if TYPE_CHECKING:
    from bakeguard.bakeargs import BakeArgs
    from bakeguard.session import Session


NAMELESS = "tag is needed when pushing to registry"


def nameless(defn: Definition) -> list[str]:
    """Targets that push without a name: bake's build fails on them with NAMELESS
    (buildx build/opt.go), whatever bakeguard does."""
    return sorted(t.name for t in defn.pushing if not t.push_refs)


def target_lines(defn: Definition) -> list[str]:
    lines = []
    for name in sorted(defn.targets):
        t = defn.targets[name]
        plats = ", ".join(t.platforms) or "(builder's native)"
        push = ", ".join(t.push_refs) if t.pushes else "no push"
        if t.pushes and not t.push_refs:
            push = f"no name to push to (bake fails: {NAMELESS})"
        lines.append(f"target {name}: platforms {plats}; push: {push}")
    for name in nameless(defn):
        lines.append(
            f"warning: target {name} pushes without a name; bake's build fails with "
            f'"{NAMELESS}" (give it tags, or name= in its output)'
        )
    return lines


def request(b: BakeArgs, environ: Mapping[str, str]) -> Request:
    """What the offline reading needs of a bake invocation."""
    return Request(
        files=b.values("--file"),
        targets=b.targets,
        sets=b.values("--set"),
        variables=b.values("--var"),
        push=b.flag_set("--push"),
        load=b.flag_set("--load"),
        sbom=b.last("--sbom"),
        provenance=b.last("--provenance"),
        call=b.last("--call") or ("check" if b.values("--check") else None),
        no_cache=b.flag_set("--no-cache") if b.values("--no-cache") else None,
        pull=b.flag_set("--pull") if b.values("--pull") else None,
        environ=environ,
    )


def offline(session: Session) -> tuple[Definition, str]:
    try:
        doc = read(request(session.bake, session.environ), Path.cwd())
    except Refusal as e:
        raise UsageError(
            f"--guard-plan: the offline reading cannot evaluate this definition: {e}",
            "run it where docker and buildx are available (bake --print resolves everything)",
        ) from e
    return Definition.parse(json.dumps(doc)), "offline reading of the bake files (bake's semantics)"


def mode(session: Session, decision: guard.Decision, defn: Definition) -> str:
    if session.opts.guard == "off":
        what = "pass-through (--guard=off)"
    elif decision.refuse:
        return "refuse (--guard=strict), exit 4"
    elif decision.per_platform:
        what = f"split ({decision.reason})"
    else:
        what = "plain bake" + (", then verify" if session.opts.verify and defn.pushing else "")
    if nameless(defn):
        what += f" (bake fails: {', '.join(nameless(defn))} without a name)"
    return what


def plan(session: Session) -> int:
    out = emit
    env: Environment | None = None
    defn: Definition | None = None
    how = ""
    if session.docker.binary and not session.environ.get("BAKEGUARD_PLAN_OFFLINE"):
        env_f = session.start_probe()
        defn, why = session.start_resolve().result()
        env = env_f.result()
        how = "docker buildx bake --print"
        if defn is None:
            session.log.info(f"bake --print failed, reading the files offline: {why[-300:]}")
    if defn is None:
        defn, how = offline(session)
    out(f"bakeguard plan (resolved by {how})")
    if env is not None:
        out(f"environment: {guard.describe_env(env)}")
    for line in target_lines(defn):
        out(line)
    if env is None:
        out("mode: unknown without docker (the guard needs the buildx version and builder)")
        return 0
    decision = guard.decide(session.opts, advisories.load(session.environ), env, defn, session.bake)
    for m in decision.matches:
        out(
            f"advisory {m.advisory.id} [{m.advisory.level}]"
            + ("" if m.certain else f" (cannot tell: {', '.join(m.unknown)})")
        )
    out(f"mode: {mode(session, decision, defn)}")
    out("commands:")
    docker = session.docker.binary
    if decision.per_platform and not decision.refuse and session.opts.guard != "off":
        from bakeguard.split.plan import make_plan, plan_outputs, repo_of

        by_digest, store = plan_outputs(env)
        p = make_plan(defn, by_digest, session.opts.split_suffix, store=store)
        gen = session.bake.generated("GENERATED.json", "METADATA.json", p.definition["target"])
        out("  " + shlex.join([docker, "buildx", "bake", *gen]))
        for name, t in p.split_targets.items():
            srcs = [
                f"{repo_of(t.tag_refs[0])}@DIGEST({v.platform})"
                for v in p.variants
                if v.target == name
            ]
            tags = [x for r in t.tag_refs for x in ("-t", r)]
            out("  " + shlex.join([docker, "buildx", "imagetools", "create", *tags, *srcs]))
    elif not decision.refuse:
        extra = [] if session.bake.last("--metadata-file") else ["--metadata-file", "METADATA.json"]
        out("  " + shlex.join([docker, "buildx", "bake", *session.bake.argv, *extra]))
    for t in defn.pushing:
        for ref in t.tag_refs:
            out(f"  verify {ref}: {', '.join(t.normalized_platforms) or 'one platform'}")
    return 0
