"""The guarded run's fast paths.

Plain: when a recent full run on this machine found that no advisory can apply to this
builder (the probe's cache, same key and TTL, plus the advisory table's identity), bake starts
at once. Meanwhile a low-priority thread imports the rest of bakeguard, resolves the definition
with a niced `bake --print` and warms the registry client; after bake, verification runs as
on the full path.

Split: when a recent full run decided to split (or to apply a compatibility profile) for the
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
from collections.abc import Iterator, Mapping

from bakeguard import generated, memo
from bakeguard import log as log_
from bakeguard.bakeargs import BakeArgs
from bakeguard.docker import OWN_METADATA_ENV, Docker
from bakeguard.interrupts import Interrupted
from bakeguard.options import GuardOptions
from bakeguard.terminal import Tail
from bakeguard.warmup import lower_priority, preload_verification

TYPE_CHECKING = False  # typing is not imported before bake starts
if TYPE_CHECKING:
    from typing import Any

    from bakeguard.session import Session


@contextlib.contextmanager
def _reporting_interrupts(box: Mapping[str, Any], thread: threading.Thread) -> Iterator[None]:
    """Ctrl-C (or SIGTERM) during a fast path's bake: the report and the CI summary, when
    wanted, still say how the run ended (the background thread made the session). Whatever
    ended the bake early, the split's pre-started `imagetools create` are stopped."""
    try:
        yield
    except BaseException as e:
        if thread.ident is not None:
            thread.join(timeout=5)
        if box.get("split") is not None:  # imagetools create started beside bake: not needed
            box["split"].cancel_started()
        if not isinstance(e, Interrupted):
            raise
        session = box.get("session")
        if session is not None:
            session.finish(e.code)
        raise


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
    box: dict[str, Any] = {}

    def prepare() -> None:
        session = _session(opts, bake, docker, {"mode": "plain"})
        box["env_f"] = session.start_probe()
        if opts.verify or opts.report or box.get("failed"):
            box["defn_f"] = session.start_resolve(nice=not box.get("failed"))
        else:
            from bakeguard.tasks import Task

            box["defn_f"] = Task.of((None, "verification is off"))
        box["session"] = session
        if opts.verify:
            session.warm_registry(box["env_f"], box["defn_f"])

    # Nothing to verify, report or annotate: a successful bake needs nothing more from
    # bakeguard, so the rest of it is loaded only if bake fails (to read the error).
    quiet = not opts.verify and not opts.report and not memo.ci_output(os.environ)
    # started once bake runs: its imports would hold the GIL while bake is being started
    thread = threading.Thread(target=prepare, daemon=True)
    args, meta_path, ours = generated.with_metadata(bake, opts.verify)
    try:
        seen = Tail()
        with _reporting_interrupts(box, thread):
            code = docker.run_bake(
                args.argv,
                tee=seen,
                env=OWN_METADATA_ENV if ours else None,
                started=None if quiet else thread.start,
            )
        if quiet and code == 0:
            return 0
        box["failed"] = code != 0
        if not quiet:
            thread.join()
        from bakeguard.commands.build import after_bake
        from bakeguard.session import finishing

        if "session" not in box:  # not started (quiet), or it failed: do its work here
            prepare()
        session: Session = box["session"]
        return finishing(
            session,
            lambda: after_bake(session, code, box["defn_f"], box["env_f"], seen, meta_path),
        )
    finally:
        if ours:
            with contextlib.suppress(OSError):
                os.unlink(ours)


def run_split(opts: GuardOptions, bake: BakeArgs, docker: Docker, entry: Mapping[str, Any]) -> int:
    import tempfile

    colour = log_.console_colour(os.environ)
    for level, text in entry["said"]:
        print(log_.console_line(level, text, colour), file=sys.stderr, flush=True)
    box: dict[str, Any] = {}

    def prepare() -> None:
        from bakeguard.split.run import Split

        session = _session(opts, bake, docker, entry["record"])
        box["session"] = session
        env_f = session.start_probe()
        session.note_env(env_f.result())
        defn_f = session.start_resolve(nice=True)
        defn = defn_f.result()[0]
        if defn is None:
            return
        s = Split(session, env_f.result(), defn, split=bool(entry["split"]), compat=session.compat)
        box["split"], box["plan"] = s, s.plan()
        if box["plan"].definition == entry["definition"]:
            s.prestart(box["plan"])
        if opts.verify:
            # (the registry client itself is made while imagetools runs: its connection)
            preload_verification()

    def background() -> None:
        lower_priority()  # before prepare's first import (the split's modules: real CPU work)
        with contextlib.suppress(Exception):  # whatever failed is redone after the bake
            prepare()

    # started once bake runs: its imports would hold the GIL while bake is being started
    thread = threading.Thread(target=background, daemon=True)
    definition = entry["definition"]
    tmp = tempfile.mkdtemp(prefix="bakeguard-split-")
    seen = Tail()
    try:
        gen, meta = generated.write(tmp, definition)
        with _reporting_interrupts(box, thread):
            code = generated.bake(
                docker, bake, gen, meta, list(definition["target"]), seen, thread.start
            )
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise
    thread.join()
    from bakeguard.errors import BakeguardError
    from bakeguard.session import finishing

    if "plan" not in box:
        prepare()  # here, so that what failed in the background raises for the user
    session: Session = box["session"]
    if "plan" not in box:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        err = BakeguardError(
            f"bake exited {code}, but the definition could not be resolved again to confirm "
            "the split's platforms",
            "run again; `bakeguard --guard-verify-only ARGS` checks the registry",
        )
        return finishing(session, lambda: _raise(err))
    plan = box["plan"]
    if plan.definition != definition:  # the cache said one thing, the definition another
        session.log.warning("the cached split plan is out of date; confirming the new plan")
    return finishing(session, lambda: box["split"].after_bake(plan, tmp, code, seen))


def _raise(e: BaseException) -> int:
    raise e
