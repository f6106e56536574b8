"""A build: probe and resolve (concurrently), decide, bake plainly or through the split,
verify, report."""

from __future__ import annotations

from bakeguard import probe, report
from bakeguard.definition import Definition
from bakeguard.docker import OWN_METADATA_ENV
from bakeguard.errors import (
    GuardRefused,
    UsageError,
    VerificationFailed,
)
from bakeguard.session import Session
from bakeguard.tasks import Task
from bakeguard.terminal import Tail


def build(session: Session) -> int:
    from bakeguard import advisories, guard, matching, memo
    from bakeguard import compat as compat_

    env_f = session.start_probe()
    defn_f = session.start_resolve()
    table_ = advisories.load(session.environ)
    env = env_f.result()
    session.note_env(env)
    early = guard.actionable(
        matching.match(table_, guard.facts(env, None, session.bake, environ=session.environ))
    )
    if session.opts.shard:
        return shard(session, env, defn_f)
    memo.remember(
        session.docker, session.bake, session.environ, clean=not early and not env.problems
    )
    if not early and session.opts.split != "always" and session.profiles.compat.empty:
        # nothing in the table can apply: start bake now; the definition resolves meanwhile
        session.record["mode"] = "plain"
        return plain(session, defn_f, env)
    defn, why = defn_f.result()
    if defn is None:
        session.log.debug(f"bake --print failed; running bake as is: {why}")
        session.record["mode"] = "plain"
        return session.docker.run_bake(session.bake.argv)
    decision = guard.decide(session.opts, table_, env, defn, session.bake)
    session.announce(decision, env)
    if decision.refuse:
        ids = ", ".join(m.advisory.id for m in decision.matches if m.advisory.level == "error")
        raise GuardRefused(
            f"refused by --guard=strict: {ids} applies to this build; nothing was built or pushed",
            "use a fixed buildx or another builder (see above), "
            "or run with --guard=auto to let bakeguard work around it",
        )
    compat = session.profiles.compat
    profiles = {t.name: compat.for_target(t) for t in defn.pushing}
    needs_compat = any(p not in (None, "oci") for p in profiles.values())
    if decision.per_platform or needs_compat or decision.declared:
        from bakeguard.split.run import SplitRun

        session.record["mode"] = (
            "split" if decision.per_platform else "compat" if needs_compat else "platforms"
        )
        if decision.per_platform:
            session.say("info", f"splitting per platform ({decision.reason})")
        for name in decision.declared:
            session.say(
                "info",
                f"target {name}: building {', '.join(defn.corrected[name])} as the compose "
                "file declares (`bake --print` shows no platforms for it)",
            )
        session.profiles.say_remembered(defn)  # (a line per host)
        setting = compat_.parse(session.opts.compat)
        for t in defn.pushing:
            p = profiles[t.name]
            if p not in (None, "oci") and setting.for_target(t) == p:
                session.say("info", f"target {t.name}: {p} profile ({compat_.DESCRIPTIONS[p]})")
        s = SplitRun(session, env, defn, per_platform=decision.per_platform, compat=compat)
        plan = s.plan()
        memo.remember_split(
            session.opts,
            session.bake,
            session.docker,
            session.environ,
            session.said,
            session.record,
            plan.definition,
            decision.per_platform,
        )
        return s.run(plan)
    session.record["mode"] = "plain"
    if decision.matches:
        session.read_tags_before(defn, env)
    return plain(session, Task.of((defn, "")), env)


def shard(
    session: Session, env: probe.Environment, defn_f: Task[tuple[Definition | None, str]]
) -> int:
    from bakeguard.platforms import normalize
    from bakeguard.split.run import SplitRun

    if not session.opts.digests:
        raise UsageError(
            "--guard-shard needs --guard-digests DIR", "name the folder the merge job will read"
        )
    defn, why = defn_f.result()
    if defn is None:
        raise UsageError(f"cannot resolve the bake definition: {why}", "fix the bake arguments")
    if not defn.pushing:
        raise UsageError(
            "--guard-shard: no target pushes with these arguments, so there is nothing to shard",
            "add --push (or give the target an output with push=true)",
        )
    wanted = [normalize(p) for p in session.opts.shard.split(",") if p.strip()]  # type: ignore[union-attr]
    known = {normalize(p) for t in defn.pushing for p in t.platforms}
    unknown = [p for p in wanted if p not in known]
    if unknown:
        raise UsageError(
            f"--guard-shard: {', '.join(unknown)} is not a platform of any pushing target",
            f"choose from: {', '.join(sorted(known))}"
            if known
            else "name the pushing target's platforms (platforms = [...] in the bake "
            "file, or --set TARGET.platform=...)",
        )
    session.record["mode"] = "shard"
    session.profiles.say_remembered(defn)
    s = SplitRun(
        session,
        env,
        defn,
        only_platforms=wanted,
        shard_dir=session.opts.digests,
        compat=session.profiles.compat,
    )
    return s.run()


def plain(
    session: Session, defn_f: Task[tuple[Definition | None, str]], env: probe.Environment
) -> int:
    """bake with the user's arguments (plus a metadata file of ours), then verify."""
    from bakeguard import generated
    from bakeguard.launch import Launch, execute
    from bakeguard.warmup import preload_verification

    args, meta_path, ours = generated.with_metadata(session.bake, session.opts.verify)
    launch = Launch(
        args.argv,
        lambda code, seen: after_bake(session, code, defn_f, Task.of(env), seen, meta_path),
        env=OWN_METADATA_ENV if ours else None,
        beside=preload_verification if session.opts.verify else None,
        cleanup=lambda: generated.remove(ours),
    )
    return execute(session.docker, launch)


def after_bake(
    session: Session,
    code: int,
    defn_f: Task[tuple[Definition | None, str]],
    env_f: Task[probe.Environment],
    seen: Tail,
    meta_path: str,
) -> int:
    """What follows a plain bake: a known registry rejection's one retry, verification."""
    session.record["bake_exit_code"] = code
    env = env_f.result()
    if "environment" not in session.record:
        session.note_env(env)
    if code != 0:
        defn, _why = defn_f.result()
        retry = session.profiles.retry_for(seen.text(), defn)
        if retry is None or defn is None:
            session.report_tags(defn, env)
            return code
        from bakeguard.split.run import SplitRun

        session.record["mode"] = "compat"
        return session.profiles.retrying(
            SplitRun(session, env, defn, per_platform=False, compat=retry).run
        )
    if not session.opts.verify:
        return code
    defn, _why = defn_f.result()
    if defn is None or not defn.pushing:
        return code
    from bakeguard.attestations import wanted_for
    from bakeguard.registry.verify import advice, expectations

    metadata = report.read_object(meta_path)
    wanted = wanted_for(env, session.profiles.compat, session.environ)
    outcomes = session.verify(expectations(defn, metadata, wanted=wanted), env)
    if not all(o.ok for o in outcomes):
        raise VerificationFailed(
            "verification failed: bake exited 0 but the registry does not hold what it "
            "pushed (see the table above)",
            advice(outcomes),
        )
    return code
