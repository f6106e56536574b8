"""`--guard-plan`: a dry run. Prints targets x platforms x tags, the mode bakeguard would
choose and the commands it would run; runs no build. Resolves through `bake --print` when
docker can, else reads the HCL/JSON files offline (hclread) and names what it cannot read."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from bakeguard import advisories, guard
from bakeguard.definition import Definition
from bakeguard.errors import UsageError
from bakeguard.hclread import Unsupported, read
from bakeguard.probe import Environment
from bakeguard.text import emit

if TYPE_CHECKING:
    from bakeguard.session import Session


def target_lines(defn: Definition) -> list[str]:
    lines = []
    for name in sorted(defn.targets):
        t = defn.targets[name]
        plats = ", ".join(t.platforms) or "(builder's native)"
        push = ", ".join(t.push_refs) if t.pushes else "no push"
        lines.append(f"target {name}: platforms {plats}; push: {push}")
    return lines


def offline(session: Session) -> tuple[Definition, str]:
    b = session.bake
    try:
        doc = read(
            b.values("--file"),
            b.targets,
            b.values("--set"),
            b.flag_set("--push"),
            session.environ,
            Path.cwd(),
        )
    except Unsupported as e:
        raise UsageError(
            f"--guard-plan: the offline reading cannot evaluate this definition: {e}",
            "run it where docker and buildx are available (bake --print resolves everything)",
        ) from e
    except OSError as e:
        raise UsageError(f"--guard-plan: cannot read a bake file: {e}", "check -f paths") from e
    return Definition.parse(json.dumps(doc)), "offline reading of the bake files (python-hcl2)"


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
    if session.opts.guard == "off":
        mode = "pass-through (--guard=off)"
    elif decision.refuse:
        mode = "refuse (--guard=strict), exit 4"
    elif decision.per_platform:
        mode = f"split ({decision.reason})"
    else:
        mode = "plain bake" + (", then verify" if session.opts.verify and defn.pushing else "")
    out(f"mode: {mode}")
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
