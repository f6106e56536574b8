"""A build: probe and resolve (concurrently), decide, bake plainly or through the split,
verify, report."""

from __future__ import annotations

from bakeguard import probe, report
from bakeguard.definition import Definition
from bakeguard.docker import OWN_METADATA_ENV
from bakeguard.errors import (
    EXIT_INTERRUPTED,
    GuardRefused,
    UsageError,
    VerificationFailed,
)
from bakeguard.interrupts import Interrupted
from bakeguard.session import Session
from bakeguard.tasks import Task
from bakeguard.terminal import Tail


def build(session: Session) -> int:
    """A guarded build. A Ctrl-C before any bake started (between the waits that
    `Session.reading_definition` covers) is said as there, and ends the run as an
    interruption."""
    try:
        return guarded(session)
    except KeyboardInterrupt:
        if session.docker.bakes_started:
            raise
        session.stopped_reading()
        raise Interrupted(EXIT_INTERRUPTED) from None


def guarded(session: Session) -> int:
    from bakeguard import advisories, guard, jobs, matching, memo
    from bakeguard import compat as compat_

    env_f = session.start_probe()
    defn_f = session.start_resolve()
    table_ = advisories.load(session.environ)
    with session.reading_definition():
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
    with session.reading_definition():
        defn, why = defn_f.result()
    if defn is None:
        unverified(session, why)
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
    if refused_names(session, defn):
        session.record["mode"] = "plain"
        return plain(session, Task.of((defn, "")), env)
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
            (jobs.native(env), jobs.at_once(env)),
        )
        return s.run(plan)
    session.record["mode"] = "plain"
    if decision.matches:
        session.read_tags_before(defn, env)
    return plain(session, Task.of((defn, "")), env)


def unverified(session: Session, why: str, after: bool = False) -> None:
    """`bake --print` failed: bakeguard cannot know what the build pushes, so the registry
    is not read. Said, with the last line of what `bake --print` said; bake's own error, if
    the build fails too, is bake's to print."""
    last = next((ln for ln in reversed(why.splitlines()) if ln.strip()), "no output")
    last = "".join(c if c.isprintable() else " " for c in last.strip())[:300]
    session.log.warning(
        f"`bake --print` failed ({last}): bakeguard cannot tell what this build pushes; "
        + (
            "bake ran as asked and nothing was verified"
            if after
            else "running bake as asked, without the guard; nothing will be verified"
        )
    )


def refused_names(session: Session, defn: Definition) -> bool:
    """Tags that are no image reference (refs.problem): bake refuses them, so a split or a
    profile would only generate more names bake refuses. bake runs as asked and says so
    itself; what each tag holds is then reported as `invalid`, never read."""
    from bakeguard.refs import problem

    bad = [(t.name, r, problem(r)) for t in defn.pushing for r in t.tag_refs if problem(r)]
    for name, ref, why in bad:
        session.say(
            "warning",
            f"target {name}: {ref!r} is not a valid image reference ({why}); bake will refuse "
            "it: running bake as asked, without a split (no such name is read from the "
            "registry)",
        )
    return bool(bad)


def shard(
    session: Session, env: probe.Environment, defn_f: Task[tuple[Definition | None, str]]
) -> int:
    from bakeguard.platforms import normalize
    from bakeguard.split.run import SplitRun

    if not session.opts.digests:
        raise UsageError(
            "--guard-shard needs --guard-digests DIR", "name the folder the merge job will read"
        )
    with session.reading_definition():
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
    from bakeguard import generated, jobs

    if session.bake.last("--jobs") is not None and not jobs.native(env):
        return chunked(session, defn_f, env)
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


def chunked(
    session: Session, defn_f: Task[tuple[Definition | None, str]], env: probe.Environment
) -> int:
    """`-j N` on a buildx without `bake --jobs` (before 0.38): the resolved definition baked
    N targets at a time, one bake after another (jobs.Chunked: bake's exit code, and its
    metadata file when every chunk succeeded), then verified as a plain bake."""
    import shutil
    import tempfile

    from bakeguard import generated, jobs
    from bakeguard.launch import Launch, execute

    defn, why = defn_f.result()
    if defn is None:
        raise UsageError(
            f"buildx {env.buildx} has no `bake --jobs`, and bakeguard could not resolve the "
            f"definition to bake it a chunk at a time: {why}",
            "fix the bake arguments (see `docker buildx bake --print`), or drop --jobs",
        )
    tmp = tempfile.mkdtemp(prefix="bakeguard-jobs-")
    try:
        gen, meta = generated.write(tmp, {"target": {n: t.raw for n, t in defn.targets.items()}})
        meta = session.bake.last("--metadata-file") or meta
        b = generated.bounded(
            session.bake, gen, meta, list(defn.targets), False, jobs.at_once(env), False
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    session.log.info(
        f"buildx {env.buildx} has no `bake --jobs`: baking {len(defn.targets)} targets in "
        f"{len(b.chunked.argvs) if b.chunked else 1} bakes, one after another"
    )
    launch = Launch(
        b.argv,
        lambda code, seen: after_bake(session, code, Task.of((defn, "")), Task.of(env), seen, meta),
        b.env,
        b.unset,
        cleanup=lambda: shutil.rmtree(tmp, ignore_errors=True),
        chunked=b.chunked,
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
    with session.reading_definition(code):
        env = env_f.result()
    if "environment" not in session.record:
        session.note_env(env)
    if code != 0:
        from bakeguard.split.plan import engine_pushes

        with session.reading_definition(code):
            defn, _why = defn_f.result()
        engine = engine_pushes(env)
        retry = session.profiles.retry_for(seen.text(), defn, engine=engine)
        if retry is None or defn is None:
            if session.profiles.engine_failed(seen.text(), engine):
                session.report_tags(defn, env, why="the engine's second push failed")
            else:
                session.report_tags(defn, env)
            return code
        from bakeguard.split.run import SplitRun

        session.record["mode"] = "compat"
        return session.profiles.retrying(
            SplitRun(session, env, defn, per_platform=False, compat=retry).run
        )
    if not session.opts.verify:
        return code
    with session.reading_definition(code):
        defn, why = defn_f.result()
    if defn is None:
        unverified(session, why, after=True)
    if defn is None or not defn.pushing:
        return code
    from bakeguard.attestations import wanted_for
    from bakeguard.registry.verdict import advice
    from bakeguard.registry.verify import expectations

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
