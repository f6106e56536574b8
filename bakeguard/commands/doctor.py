"""`--guard-version` and `--guard-doctor`: what this machine and bake definition look like."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bakeguard import __version__, advisories, cachekey, engines, guard, locator, matching, probe
from bakeguard.text import emit

if TYPE_CHECKING:
    from bakeguard.definition import Definition
    from bakeguard.session import Session


def version(session: Session) -> int:
    name = cachekey.builder_name(session.bake.last("--builder"), session.environ)
    env = probe.probe(session.docker, name, session.environ)
    emit(f"bakeguard {__version__}")
    emit(f"buildx {env.buildx} ({env.buildx.raw or 'not found'})")
    return 0


def doctor(session: Session) -> int:
    env_f = session.start_probe()
    defn, why = session.start_resolve().result()
    env = env_f.result()
    out = emit
    out(f"bakeguard {__version__}")
    out(f"docker: {session.docker.binary}")
    out(f"buildx: {env.buildx} ({env.buildx.raw or 'not found'})")
    located = session.docker.plugin()
    if located:
        out(f"buildx runs: {located} (directly, as the docker CLI runs it)")
    else:
        reason = locator.refusal(session.docker.binary, env.engine.buildx_path, session.environ)
        out(f"buildx runs: through docker ({reason or 'plugin not located yet'})")
    out(f"engine: {env.engine.version or 'unknown'}")
    b = env.builder
    if b:
        out(f"builder: {b.name} (driver {b.driver})")
        for n, known in zip(b.nodes, engines.buildkits(env), strict=True):
            out(f"  node {n.name}: BuildKit {_buildkit(n, known)}, {', '.join(n.platforms) or '-'}")
    else:
        out("builder: unknown")
    if env.driver == "docker":
        store = {True: "containerd", False: "classic", None: "unknown"}[env.containerd_store]
        out(f"image store: {store}")
    for p in env.problems:
        out(f"probe problem: {p}")
    table = advisories.load(session.environ)
    if defn is None:
        out(f"bake definition: not resolved ({why.splitlines()[-1] if why else 'no output'})")
        matches = matching.match(table, guard.facts(env, None, session.bake))
    else:
        out(f"bake definition: {len(defn.targets)} targets, {len(defn.pushing)} pushing")
        matches = matching.match(table, guard.facts(env, defn, session.bake))
    refuse = False
    for m in matches:
        tag = "applies" if m.certain else f"cannot tell ({', '.join(m.unknown)} unknown)"
        out(f"advisory {m.advisory.id} [{m.advisory.level}]: {tag}")
        out(f"    {m.advisory.title}; fix: {m.advisory.fix}")
        refuse |= m.advisory.level == "error"
    if not matches:
        out("advisories: none apply")
    remembered(session)
    if defn is not None:
        reachable(session, defn, env)
    return 4 if refuse else 0


def _buildkit(node: probe.Node, known: engines.NodeBuildKit) -> str:
    """The node's BuildKit as it reports it, and what advisories match when that differs."""
    shown = node.buildkit or "?"
    if known.source == "node":
        return shown
    if known.version is None:
        return f"{shown} (cannot tell: {known.why})"
    return f"{shown} ({known.version} {known.why})"


def remembered(session: Session) -> None:
    """The registry profiles earlier retries proved, and whether this run would use them."""
    from bakeguard import learned

    entries = learned.load(session.environ)
    if not entries:
        emit("remembered registry profiles: none")
        return
    emit("remembered registry profiles (`--guard-forget-compat=HOST` or `=all` forgets):")
    compat = session.profiles.compat
    for e in entries.values():
        if not session.opts.compat_memory:
            use = "not used: BAKEGUARD_COMPAT_MEMORY=false"
        elif compat.remembered_for(e.host) is None:
            use = f"not used: BAKEGUARD_COMPAT / --guard-compat give {compat.for_host(e.host)}"
        else:
            use = "used up front"
        emit(f"  {e.host}: {e.profile} since {e.since} ({use}); it had rejected: {e.error}")


def reachable(session: Session, defn: Definition, env: probe.Environment) -> None:
    from bakeguard.refs import Reference
    from bakeguard.registry import RegistryError

    hosts = {
        Reference.parse(r).registry: Reference.parse(r) for t in defn.pushing for r in t.push_refs
    }
    if not hosts:
        return
    reg = session.registry(env)
    reg.budget = 0  # one try each: the doctor reports, it does not wait
    try:
        for host, ref in sorted(hosts.items()):
            try:
                status, url = reg.ping(ref)
                emit(f"registry {host}: reachable ({url} answered {status})")
            except RegistryError as e:
                emit(f"registry {host}: NOT reachable ({e})")
    finally:
        reg.close()
