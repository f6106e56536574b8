"""A run's session: its options, bake's arguments, docker, the report it writes, the registry
client it keeps, its registry profiles (bakeguard.profiles), and what every mode says in the
same words (verification's table, a failed push's tags)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bakeguard import __version__, cachekey, ci, log, probe, report
from bakeguard.bakeargs import BakeArgs
from bakeguard.definition import Definition
from bakeguard.docker import Docker, Result
from bakeguard.errors import (
    BakeguardError,
)
from bakeguard.interrupts import Interrupted, signals_interrupt
from bakeguard.options import GuardOptions
from bakeguard.profiles import Profiles
from bakeguard.tasks import Task

# How long a plain bake that an advisory flagged may wait for the tags' state before it
# (`Session.read_tags_before`): a registry slower than this is read only after the push.
BEFORE_READ_WAIT = 2.0

if TYPE_CHECKING:  # the fast path imports this module while bake runs: keep it light
    import subprocess

    from bakeguard import guard
    from bakeguard.registry import Registry
    from bakeguard.registry.verify import Expectation, Outcome


def resolve(
    docker: Docker,
    bake: BakeArgs,
    nice: bool = False,
    environ: Mapping[str, str] | None = None,
    started: subprocess.Popen[str] | Result | None = None,
) -> tuple[Definition | None, str]:
    """`bake --print` with the user's own arguments (`started` already: memo.prefetch_print);
    (None, why) when it fails. The printed definition is cached under a key of everything it
    depends on (cachekey.definition_key)."""
    from bakeguard.memo import PrintRequest

    environ = os.environ if environ is None else environ
    request = PrintRequest(docker, bake, environ)
    args, path = request.args, request.path
    if path and started is None:
        cached = cachekey.read_definition(path)  # (None: missing or damaged, printed anew)
        if cached is not None:
            with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
                return declared(Definition.parse(cached), bake, environ), ""
    if started is None:
        res = docker.capture(["buildx", "bake", *args], timeout=120, nice=nice)
    else:
        res = docker.collect(started, timeout=120)
    if not res.ok:
        return None, res.stderr.strip()[-2000:]
    try:
        defn = Definition.parse(res.stdout)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        return None, f"unreadable `bake --print` output: {e}"
    if path:  # (not when it holds a value that may be secret: cachekey.holds_secrets)
        cachekey.write_definition(path, res.stdout, defn.raw)
    return declared(defn, bake, environ), ""


def declared(defn: Definition, bake: BakeArgs, environ: Mapping[str, str]) -> Definition:
    """The definition as the user wrote it: platforms a compose file declares and the print
    lost (buildx < 0.23) are put back, so that they are expected, and built under
    --guard=auto."""
    from bakeguard import compose

    paths = compose.files(bake.values("--file"), environ, os.getcwd())
    return defn.declaring(compose.declared_platforms(paths, environ)) if paths else defn


@dataclass
class Session:
    opts: GuardOptions
    bake: BakeArgs
    docker: Docker
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    record: dict[str, Any] = field(default_factory=dict)
    warm: Registry | None = None  # the run's registry client, once made (kept_registry)
    # (level, lines) before bake
    said: list[tuple[str, list[str]]] = field(default_factory=list)
    # a `bake --print` the command started before importing this module (memo.prefetch_print)
    prefetched: subprocess.Popen[str] | Result | None = None
    # each tag as it was before bake, when read (`read_tags_before`): by reference
    before: Mapping[str, Outcome] = field(default_factory=dict)
    _warm_lock: threading.Lock = field(default_factory=threading.Lock)
    _printing: subprocess.Popen[str] | None = None  # the prefetched `bake --print`, once taken

    def __post_init__(self) -> None:
        self.log = log.get()
        self.record.update(
            {"schema": report.SCHEMA, "bakeguard": __version__, "guard": self.opts.guard}
        )
        self.profiles = Profiles(self.opts, self.environ, self.record, self.say)

    # ------------------------------------------------------------ building blocks

    def start_probe(self) -> Task[probe.Environment]:
        """The probe: its cached result at once when fresh, else running beside the rest."""
        name = cachekey.builder_name(self.bake.last("--builder"), self.environ)
        env = probe.cached(self.docker, name, self.environ)
        if env is not None:
            return Task.of(env)
        return Task.start(probe.probe, self.docker, name, self.environ)

    def start_resolve(self, nice: bool = False) -> Task[tuple[Definition | None, str]]:
        started, self.prefetched = self.prefetched, None
        self._printing = None if isinstance(started, Result) else started
        return Task.start(resolve, self.docker, self.bake, nice, self.environ, started)

    @contextlib.contextmanager
    def reading_definition(self, bake_exit: int | None = None) -> Iterator[None]:
        """Around a wait for the probe or `bake --print`, before bake (`bake_exit` None) or
        after it: a Ctrl-C or SIGTERM there ends the run with the signal's code (`finishing`
        writes the report); see `stopped_reading`."""
        try:
            with signals_interrupt():
                yield
        except Interrupted:
            self.stopped_reading(bake_exit)
            raise

    def stopped_reading(self, bake_exit: int | None = None) -> None:
        """A signal ended the run while it read the builder and the definition: said (before
        bake: nothing was built; after it: nothing was verified), and the `bake --print` it
        may wait for is stopped."""
        if self._printing is not None and self._printing.poll() is None:
            self._printing.kill()
        self.log.warning(
            "interrupted before bake started (while reading the builder and the bake "
            "definition): nothing was built or pushed, every tag is untouched"
            if bake_exit is None
            else f"interrupted after bake exited {bake_exit}, while reading the bake "
            "definition to verify the push: nothing was verified"
        )

    def warm_registry(
        self,
        env_f: Task[probe.Environment],
        defn_f: Task[tuple[Definition | None, str]],
    ) -> None:
        """While bake runs: a registry client with a connection open to each push host, so
        that verification afterwards starts on a warm connection."""
        defn, _why = defn_f.result()
        if defn is None:
            return
        reg = self.registry(env_f.result())
        reg.connect(r for t in defn.pushing for r in t.tag_refs)
        self.warm = reg

    def registry(self, env: probe.Environment | None) -> Registry:
        from bakeguard.registry import Credentials, Registry

        return Registry(
            credentials=Credentials(self.environ.get("DOCKER_CONFIG")),
            insecure=env.engine.insecure_registries if env else (),
            budget=self.opts.verify_timeout,
        )

    def kept_registry(self, env: probe.Environment | None) -> Registry:
        """The run's registry client, made on first use and kept for verification (its
        connections stay open); `close_kept_registry` when verification will not take it."""
        with self._warm_lock:
            if self.warm is None:
                self.warm = self.registry(env)
            return self.warm

    def close_kept_registry(self) -> None:
        with self._warm_lock:
            reg, self.warm = self.warm, None
        if reg is not None:
            reg.close()

    def verify(self, exps: Sequence[Expectation], env: probe.Environment | None) -> list[Outcome]:
        from bakeguard.registry.verdict import another_push_warning, reach_hint, table
        from bakeguard.registry.verify import Verifier

        reg = self.warm if self.warm is not None else self.registry(env)
        self.warm = None
        try:
            outcomes = Verifier(reg).run(exps)
        finally:
            reg.close()
        self.record["verification"] = [o.to_json() for o in outcomes]
        if outcomes:
            with ci.Section("bakeguard_verify", "bakeguard: verification", self.environ):
                for o in outcomes:  # a tag that passed is no error, beside one that failed
                    (self.log.info if o.ok else self.log.error)(table([o]))
                hint = reach_hint(outcomes)
                if hint:
                    self.log.warning(hint)
            for o in outcomes:
                if o.ok and o.another_push:  # whole, not this run's: said, not failed
                    self.log.warning(another_push_warning(o))
                    ci.annotate(
                        "warning",
                        "bakeguard: another push",
                        f"{o.ref} holds another push's {o.another_push}",
                        self.environ,
                    )
            for o in outcomes:
                if not o.ok:
                    what = f"missing {', '.join(o.missing)}" if o.missing else (o.error or "")
                    lacking = [f"{x.kind} of {x.platform}" for x in o.attest.lacking]
                    if not what and lacking:
                        what = f"attestations missing: {', '.join(lacking)}"
                    if not what and o.attest.error:
                        what = f"attestations unread: {o.attest.error}"
                    ci.annotate(
                        "error",
                        "bakeguard: verification failed",
                        f"{o.ref}: {what or 'see the log'}",
                        self.environ,
                    )
        return outcomes

    def read_tags_before(self, defn: Definition, env: probe.Environment) -> None:
        """What each tag holds before a plain push that an advisory flagged, so that a failed
        push can tell a tag it left alone from one it changed. Read only if it is done before
        bake starts (a read that ends after the push began would claim too much)."""
        from bakeguard.registry import tagstate
        from bakeguard.registry.verify import expectations

        exps = expectations(defn) if self.opts.verify else []
        if not exps:
            return
        task = Task.start(tagstate.read, self.kept_registry(env), exps)
        if task.done_within(BEFORE_READ_WAIT):
            with contextlib.suppress(Exception):  # no answer before bake: nothing to compare
                self.before = task.result()

    def report_tags(
        self,
        defn: Definition | None,
        env: probe.Environment | None,
        unwritten: Sequence[str] = (),
        why: str = "the push did not end well",
    ) -> None:
        """A push was asked and did not end well (`why`): what every tag holds now, in the
        log and the report (bake's exit code stays the run's). `unwritten`: tags this run
        wrote nothing to (the split's final tags when it stopped before assembling them)."""
        if defn is None or not self.opts.verify:  # --guard-verify=false: no registry reads
            return
        from bakeguard.registry import tagstate
        from bakeguard.registry.verify import expectations

        exps = expectations(defn)
        if not exps:
            return
        now = tagstate.read(self.kept_registry(env), exps)
        self.close_kept_registry()
        before = {**self.before, **{r: now[r] for r in unwritten if r in now}}
        self.record["tags"] = [tagstate.entry(o, before.get(r)) for r, o in now.items()]
        with ci.Section("bakeguard_tags", "bakeguard: what the registry holds", self.environ):
            self.log.error(
                [
                    f"{why}; the registry holds:",
                    *(f"  {line}" for line in tagstate.summary(now, before)),
                ]
            )
        self.profiles.after_failed_push()

    def say(self, level: str, text: str | Sequence[str]) -> None:
        """A message of the decision, printed before bake (the split fast path replays them)."""
        lines = [text] if isinstance(text, str) else list(text)
        self.said.append((level, lines))
        getattr(self.log, level)(lines)

    def note_env(self, env: probe.Environment) -> None:
        self.record["environment"] = report.environment(env)
        for p in env.problems:
            self.log.debug(f"probe: {p}")

    def announce(self, decision: guard.Decision, env: probe.Environment) -> None:
        from bakeguard import guard

        self.record["advisories"] = [
            {"id": m.advisory.id, "certain": m.certain, "unknown": list(m.unknown)}
            for m in decision.matches
        ]
        if not decision.matches:
            return
        with ci.Section("bakeguard_advisories", "bakeguard: advisories", self.environ):
            for m in decision.matches:
                action = guard.action_for(self.opts, m, decision)
                text = guard.message(m, env, action)
                self.say("warning" if m.advisory.level == "error" else "info", text)
                ci.annotate(
                    "warning",
                    f"bakeguard: {m.advisory.id}",
                    f"{m.advisory.title}. {action}. Fix: {m.advisory.fix}",
                    self.environ,
                )

    def finish(self, code: int) -> int:
        """Once per run, whatever the outcome: the report and the CI summary."""
        self.record["exit_code"] = code
        if self.opts.report:
            report.write(self.opts.report, self.record)
        ci.write_summary(self.record, self.environ)
        return code


def finishing(session: Session, step: Callable[[], int]) -> int:
    """Run a step; whatever its outcome, write the report and CI summary once."""
    try:
        code = step()
    except BakeguardError as e:
        session.finish(e.exit_code)
        e.reported = True
        raise
    except Interrupted as e:
        session.finish(e.code)
        raise
    return session.finish(code)
