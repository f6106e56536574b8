"""The guarded run's fast paths.

Plain: when a recent full run on this machine found that no advisory can apply to this
builder (the probe's cache, same key and TTL, plus the advisory table's identity), bake starts
at once. Meanwhile a low-priority thread imports the rest of bakeguard, resolves the definition
with a niced `bake --print` and warms the registry client; after bake, verification runs as
on the full path.

SplitRun: when a recent full run decided to split (or to apply a compatibility profile) for the
same definition, builder, advisory table and options, its messages are replayed, and the
generated definition it baked is baked again at once; the plan is re-derived in the
background and checked against it, and everything after the bake (confirm, assemble, verify)
is the full path's own.

Nothing here imports more than the standard library and the light modules (options, docker,
cachekey, generated, log's line renderer), so a guarded, cached push costs little more than
bake itself.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Mapping

from bakeguard import generated, memo
from bakeguard import log as log_
from bakeguard.bakeargs import BakeArgs
from bakeguard.docker import OWN_METADATA_ENV, Docker
from bakeguard.interrupts import Interrupted
from bakeguard.launch import Launch, execute
from bakeguard.options import GuardOptions
from bakeguard.terminal import Tail
from bakeguard.warmup import lower_priority, preload_verification

TYPE_CHECKING = False  # typing is not imported before bake starts
if TYPE_CHECKING:
    from typing import Any

    from bakeguard.definition import Definition
    from bakeguard.probe import Environment
    from bakeguard.session import Session
    from bakeguard.split.plan import SplitPlan
    from bakeguard.split.run import SplitRun
    from bakeguard.tasks import Task


class Beside:
    """What the thread beside bake made, read once bake ended (and made then where the thread
    did not): the session, its probe and definition, and on the split's path the split with
    its plan. `failed`: bake failed, so what is still to make is made at full priority."""

    __slots__ = ("defn_f", "env_f", "failed", "plan", "run", "session")

    def __init__(self) -> None:
        self.session: Session | None = None
        self.env_f: Task[Environment] | None = None
        self.defn_f: Task[tuple[Definition | None, str]] | None = None
        self.run: SplitRun | None = None
        self.plan: SplitPlan | None = None
        self.failed = False

    def ended_early(self, e: BaseException) -> None:
        """Ctrl-C (or SIGTERM) during a fast path's bake: the report and the CI summary,
        when wanted, still say how the run ended. Whatever ended the bake early, the split's
        pre-started `imagetools create` are stopped."""
        if self.run is not None:
            self.run.cancel_started()
        if isinstance(e, Interrupted) and self.session is not None:
            self.session.finish(e.code)


def _session(
    opts: GuardOptions, bake: BakeArgs, docker: Docker, record: Mapping[str, Any]
) -> Session:
    """The full path's session, made while bake runs (at low priority when that is in a
    thread of its own) or after it; `record` says what the run's cached decision was."""
    if threading.current_thread() is not threading.main_thread():
        lower_priority()
    from bakeguard import log
    from bakeguard.session import Session

    log.configure(opts.verbose)
    session = Session(opts, bake, docker)
    session.record.update(record)
    session.record["fast_path"] = True
    return session


def run(opts: GuardOptions, bake: BakeArgs, docker: Docker) -> int:
    """The plain build, its bake started at once (memo.eligible); the session, probe and
    definition are made beside it."""
    made = Beside()

    def prepare() -> None:
        session = _session(opts, bake, docker, {"mode": "plain"})
        made.env_f = session.start_probe()
        if opts.verify or opts.report or made.failed:
            made.defn_f = session.start_resolve(nice=not made.failed)
        else:
            from bakeguard.tasks import Task

            made.defn_f = Task.of((None, "verification is off"))
        made.session = session
        if opts.verify:
            session.warm_registry(made.env_f, made.defn_f)

    # Nothing to verify, report or annotate: a successful bake needs nothing more from
    # bakeguard, so the rest of it is loaded only if bake fails (to read the error).
    quiet = not opts.verify and not opts.report and not memo.ci_output(os.environ)
    args, meta_path, ours = generated.with_metadata(bake, opts.verify)

    def after(code: int, seen: Tail) -> int:
        if quiet and code == 0:
            return 0
        made.failed = code != 0
        from bakeguard.commands.build import after_bake
        from bakeguard.session import finishing

        if made.session is None:  # not started (quiet), or it failed: do its work here
            prepare()
        session, env_f, defn_f = made.session, made.env_f, made.defn_f
        assert session is not None and env_f is not None and defn_f is not None
        return finishing(session, lambda: after_bake(session, code, defn_f, env_f, seen, meta_path))

    launch = Launch(
        args.argv,
        after,
        env=OWN_METADATA_ENV if ours else None,
        beside=None if quiet else prepare,
        ended_early=made.ended_early,
        cleanup=lambda: generated.remove(ours),
    )
    return execute(docker, launch)


def run_split(opts: GuardOptions, bake: BakeArgs, docker: Docker, entry: Mapping[str, Any]) -> int:
    """The split a recent run decided, its generated definition baked at once; the plan is
    made again beside it and checked against the one baked."""
    import tempfile

    colour = log_.console_colour(os.environ)
    for level, text in entry["said"]:
        print(log_.console_line(level, text, colour), file=sys.stderr, flush=True)
    made = Beside()

    def prepare() -> None:
        from bakeguard.split.run import SplitRun

        session = _session(opts, bake, docker, entry["record"])
        made.session = session
        env_f = session.start_probe()
        session.note_env(env_f.result())
        defn = session.start_resolve(nice=True).result()[0]
        if defn is None:
            return
        s = SplitRun(
            session,
            env_f.result(),
            defn,
            per_platform=bool(entry["split"]),
            compat=session.profiles.compat,
        )
        made.run, made.plan = s, s.plan()
        if made.plan.definition == entry["definition"]:
            s.prestart(made.plan)
        if opts.verify:
            # (the registry client itself is made while imagetools runs: its connection)
            preload_verification()

    def beside() -> None:
        lower_priority()  # before prepare's first import (the split's modules: real CPU work)
        with contextlib.suppress(Exception):  # whatever failed is redone after the bake
            prepare()

    definition = entry["definition"]
    tmp = tempfile.mkdtemp(prefix="bakeguard-split-")

    def after(code: int, seen: Tail) -> int:
        from bakeguard.errors import BakeguardError
        from bakeguard.session import finishing

        if made.plan is None:
            prepare()  # here, so that what failed in the background raises for the user
        session, split, plan = made.session, made.run, made.plan
        assert session is not None
        if split is None or plan is None:
            err = BakeguardError(
                f"bake exited {code}, but the definition could not be resolved again to "
                "confirm the split's platforms",
                "run again; `bakeguard --guard-verify-only ARGS` checks the registry",
            )
            return finishing(session, lambda: _raise(err))
        if plan.definition != definition:  # the cache said one thing, the definition another
            session.log.warning("the cached split plan is out of date; confirming the new plan")
        return finishing(session, lambda: split.after_bake(plan, tmp, code, seen))

    import shutil

    try:
        gen, meta = generated.write(tmp, definition)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    native, at_once = entry["jobs"]  # (the probe that decided it: the entry's key names it)
    b = generated.bounded(bake, gen, meta, list(definition["target"]), native, at_once)
    launch = Launch(
        b.argv,
        after,
        b.env,
        b.unset,
        beside,
        ended_early=made.ended_early,
        cleanup=lambda: shutil.rmtree(tmp, ignore_errors=True),
        chunked=b.chunked,
    )
    return execute(docker, launch)


def _raise(e: BaseException) -> int:
    raise e
