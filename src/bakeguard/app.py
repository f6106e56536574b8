"""The guarded run: probe and resolve (concurrently), decide, build, verify, report."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bakeguard import __version__, advisories, guard, log, probe, report
from bakeguard.definition import Definition
from bakeguard.docker import Docker
from bakeguard.errors import EXIT_VERIFY, GuardRefused, UsageError, VerificationFailed
from bakeguard.options import BakeArgs, GuardOptions
from bakeguard.verify import Expectation, Outcome, expectations, table


def resolve(docker: Docker, bake: BakeArgs) -> tuple[Definition | None, str]:
    """`bake --print` with the user's own arguments; (None, why) when it fails."""
    args = bake.without("--metadata-file").plus("--print").argv
    res = docker.capture(["buildx", "bake", *args], timeout=120)
    if not res.ok:
        return None, res.stderr.strip()[-2000:]
    try:
        return Definition.parse(res.stdout), ""
    except (ValueError, KeyError, TypeError) as e:
        return None, f"unreadable `bake --print` output: {e}"


def _preload_registry() -> None:
    import bakeguard.registry  # noqa: F401 - warms the import while bake runs


@dataclass
class Session:
    opts: GuardOptions
    bake: BakeArgs
    docker: Docker
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    record: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.log = log.get()
        self.pool = ThreadPoolExecutor(4)
        self.record.update(
            {"schema": report.SCHEMA, "bakeguard": __version__, "guard": self.opts.guard}
        )

    # ------------------------------------------------------------ building blocks

    def start_probe(self) -> Future[probe.Environment]:
        name = probe.builder_name(self.bake.last("--builder"), self.environ)
        return self.pool.submit(probe.probe, self.docker, name, self.environ)

    def start_resolve(self, bake: BakeArgs | None = None) -> Future[tuple[Definition | None, str]]:
        return self.pool.submit(resolve, self.docker, bake or self.bake)

    def registry(self, env: probe.Environment | None) -> Any:
        from bakeguard.registry import Credentials, Registry

        return Registry(
            credentials=Credentials(self.environ.get("DOCKER_CONFIG")),
            insecure=env.engine.insecure_registries if env else (),
            budget=self.opts.verify_timeout,
        )

    def verify(self, exps: Sequence[Expectation], env: probe.Environment | None) -> list[Outcome]:
        from bakeguard.verify import Verifier

        reg = self.registry(env)
        try:
            outcomes = Verifier(reg).run(exps)
        finally:
            reg.close()
        self.record["verification"] = [o.to_json() for o in outcomes]
        if outcomes:
            text = table(outcomes)
            if all(o.ok for o in outcomes):
                self.log.info(text)
            else:
                self.log.error(text)
        return outcomes

    def note_env(self, env: probe.Environment) -> None:
        self.record["environment"] = report.environment(env)
        for p in env.problems:
            self.log.debug(f"probe: {p}")

    def announce(self, decision: guard.Decision, env: probe.Environment) -> None:
        self.record["advisories"] = [
            {"id": m.advisory.id, "certain": m.certain, "unknown": list(m.unknown)}
            for m in decision.matches
        ]
        for m in decision.matches:
            text = guard.message(m, env, guard.action_for(self.opts, m, decision))
            if m.advisory.level == "error":
                self.log.warning(text)
            else:
                self.log.info(text)

    def finish(self, code: int) -> int:
        self.record["exit_code"] = code
        if self.opts.report:
            report.write(self.opts.report, self.record)
        return code

    # ------------------------------------------------------------ the run

    def build(self) -> int:
        env_f = self.start_probe()
        defn_f = self.start_resolve()
        table_ = advisories.load(self.environ)
        env = env_f.result()
        self.note_env(env)
        early = guard.actionable(
            advisories.match(table_, guard.facts(env, None, self.bake, environ=self.environ))
        )
        if self.opts.shard:
            return self.shard(env, defn_f)
        if not early and self.opts.split != "always":
            # nothing in the table can apply: start bake now; the definition resolves meanwhile
            self.record["mode"] = "plain"
            return self.finish(self.plain(defn_f, env))
        defn, why = defn_f.result()
        if defn is None:
            self.log.debug(f"bake --print failed; running bake as is: {why}")
            self.record["mode"] = "plain"
            return self.finish(self.docker.run_bake(self.bake.argv))
        decision = guard.decide(self.opts, table_, env, defn, self.bake)
        self.announce(decision, env)
        if decision.refuse:
            ids = ", ".join(m.advisory.id for m in decision.matches if m.advisory.level == "error")
            self.finish(GuardRefused.exit_code)
            raise GuardRefused(
                f"refused by --guard=strict: {ids} applies to this build; "
                "nothing was built or pushed",
                "use a fixed buildx or another builder (see above), "
                "or run with --guard=auto to let bakeguard work around it",
            )
        if decision.split:
            from bakeguard import split

            self.record["mode"] = "split"
            self.log.info(f"splitting per platform ({decision.split_reason})")
            return self.finish(split.Split(self, env, defn).run())
        done: Future[tuple[Definition | None, str]] = Future()
        done.set_result((defn, ""))
        self.record["mode"] = "plain"
        return self.finish(self.plain(done, env))

    def shard(self, env: probe.Environment, defn_f: Future[tuple[Definition | None, str]]) -> int:
        from bakeguard import split
        from bakeguard.platforms import normalize

        if not self.opts.digests:
            raise UsageError(
                "--guard-shard needs --guard-digests DIR", "name the folder the merge job will read"
            )
        defn, why = defn_f.result()
        if defn is None:
            raise UsageError(f"cannot resolve the bake definition: {why}", "fix the bake arguments")
        wanted = [normalize(p) for p in self.opts.shard.split(",") if p.strip()]  # type: ignore[union-attr]
        known = {normalize(p) for t in defn.pushing for p in t.platforms}
        unknown = [p for p in wanted if p not in known]
        if unknown:
            raise UsageError(
                f"--guard-shard: {', '.join(unknown)} is not a platform of any pushing target",
                f"choose from: {', '.join(sorted(known))}",
            )
        self.record["mode"] = "shard"
        s = split.Split(self, env, defn, only_platforms=wanted, shard_dir=self.opts.digests)
        return self.finish(s.run())

    def plain(self, defn_f: Future[tuple[Definition | None, str]], env: probe.Environment) -> int:
        """bake with the user's arguments (plus a metadata file of ours), then verify."""
        user_meta = self.bake.last("--metadata-file")
        tmp = None
        args = self.bake
        if user_meta is None and self.opts.verify:
            tmp = tempfile.mkdtemp(prefix="bakeguard-")
            meta_path = os.path.join(tmp, "metadata.json")
            args = self.bake.plus("--metadata-file", meta_path)
        else:
            meta_path = user_meta or ""
        try:
            threading.Thread(target=_preload_registry, daemon=True).start()
            code = self.docker.run_bake(args.argv)
            self.record["bake_exit_code"] = code
            if code != 0 or not self.opts.verify:
                return code
            defn, _why = defn_f.result()
            if defn is None or not defn.pushing:
                return code
            metadata = _read_json(meta_path)
            outcomes = self.verify(expectations(defn, metadata), env)
            if not all(o.ok for o in outcomes):
                raise VerificationFailed(
                    "verification failed: bake exited 0 but the registry does not hold what it "
                    "pushed (see the table above)",
                    "re-run with --guard-split=always, or check the registry; "
                    "`bakeguard --guard-verify-only ARGS` re-checks without building",
                )
            return code
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)

    def verify_only(self) -> int:
        env_f = self.start_probe()
        defn, why = self.start_resolve().result()
        if defn is None:
            raise UsageError(f"cannot resolve the bake definition: {why}", "fix the bake arguments")
        env = env_f.result()
        self.note_env(env)
        self.record["mode"] = "verify-only"
        exps = expectations(defn)
        if not exps:
            self.log.info("nothing to verify: no target pushes a tag with these arguments")
            return self.finish(0)
        outcomes = self.verify(exps, env)
        if not all(o.ok for o in outcomes):
            self.finish(EXIT_VERIFY)
            raise VerificationFailed(
                "verification failed (see the table above)", "push again, or check the registry"
            )
        return self.finish(0)


def _read_json(path: str) -> Mapping[str, Any] | None:
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def list_advisories(opts: GuardOptions, environ: Mapping[str, str]) -> int:
    table_ = advisories.load(environ)
    if opts.report:
        report.write(
            opts.report, {"schema": report.SCHEMA, "advisories": [a.to_json() for a in table_]}
        )
        return 0
    for a in table_:
        print(
            f"{a.id}  [{a.level}]  buildx {a.affected}  fixed: {a.fixed or '-'}  ({a.confidence})"
        )
        print(f"    {a.title}")
        print(f"    see: {' '.join(a.references)}")
    return 0


def run(opts: GuardOptions, bake: BakeArgs) -> int:
    log.configure(opts.verbose)
    if opts.advisories:
        return list_advisories(opts, os.environ)
    docker = Docker.from_env()
    session = Session(opts, bake, docker)
    if opts.version:
        from bakeguard import doctor

        return doctor.version(session)
    if opts.doctor:
        from bakeguard import doctor

        return doctor.doctor(session)
    if opts.plan:
        from bakeguard import plan

        return plan.plan(session)
    if opts.install_plugin:
        from bakeguard import plugin

        return plugin.install(session)
    if opts.merge:
        from bakeguard import split

        return split.merge(session)
    if opts.verify_only:
        return session.verify_only()
    return session.build()
