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
import hashlib
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping

from bakeguard import cachekey, compose, generated
from bakeguard import log as log_
from bakeguard.docker import OWN_METADATA_ENV, Docker, Result
from bakeguard.interrupts import Interrupted
from bakeguard.options import BakeArgs, GuardOptions
from bakeguard.terminal import Tail

TYPE_CHECKING = False  # typing costs ~2 ms before bake starts
if TYPE_CHECKING:
    import subprocess
    from typing import Any

    from bakeguard.app import Session


def uses_compose(bake: BakeArgs, environ: Mapping[str, str], cwd: str) -> bool:
    return bool(compose.files(bake.values("--file"), environ, cwd))


def _path(docker: Docker, bake: BakeArgs, environ: Mapping[str, str]) -> str:
    key = cachekey.probe_key(docker.binary, _builder(bake, environ), environ)
    return os.path.join(cachekey.cache_dir(environ), f"{key}.early")


def _argument_facts(bake: BakeArgs, environ: Mapping[str, str]) -> bool:
    """Facts from the arguments that advisories also test; the cached verdict assumed none."""
    return (bake.flag_set("--load") and bake.flag_set("--push")) or uses_compose(
        bake, environ, os.getcwd()
    )


def _builder(bake: BakeArgs, environ: Mapping[str, str]) -> str | None:
    return cachekey.builder_name(bake.last("--builder"), environ)


class PrintRequest:
    """`bake --print` with the user's arguments, the identity of what it prints
    (cachekey.definition_key; None when that cannot be cached) and where it is cached."""

    __slots__ = ("args", "key", "path")

    def __init__(self, docker: Docker, bake: BakeArgs, environ: Mapping[str, str]) -> None:
        self.args = bake.without("--metadata-file").plus("--print").argv
        self.key = self.path = None
        if cachekey.ttl(environ) > 0:
            files = bake.values("--file")
            self.key = cachekey.definition_key(
                docker.binary, self.args, files, environ, os.getcwd()
            )
        if self.key is not None:
            folder = os.path.join(os.path.dirname(cachekey.cache_dir(environ)), "definitions")
            self.path = os.path.join(folder, f"{self.key}.json")


def prefetch_print(
    docker: Docker, bake: BakeArgs, environ: Mapping[str, str], request: PrintRequest
) -> subprocess.Popen[str] | Result | None:
    """The full path's `bake --print`, started before the rest of bakeguard is imported
    (None when its output is cached)."""
    if request.path is not None and os.path.exists(request.path):
        return None
    return docker.start(["buildx", "bake", *request.args])


def remember(docker: Docker, bake: BakeArgs, environ: Mapping[str, str], clean: bool) -> None:
    """Written by the full path: may the next run skip the pre-build matching?"""
    ttl = cachekey.ttl(environ)
    if ttl <= 0 or _argument_facts(bake, environ):
        return
    path = _path(docker, bake, environ)
    # one line, "clean at table" (reading it must not cost json's import before bake starts)
    cachekey.write_atomic(path, f"{int(clean)} {time.time()} {cachekey.table_hash(environ)}\n")


def eligible(
    opts: GuardOptions, bake: BakeArgs, docker: Docker, environ: Mapping[str, str]
) -> bool:
    if opts.split == "always" or opts.compat or opts.shard or opts.guard == "off":
        return False
    ttl = cachekey.ttl(environ)
    if ttl <= 0 or _argument_facts(bake, environ):
        return False
    try:
        with open(_path(docker, bake, environ), "rb") as f:
            clean, at, table = f.read().decode().split()
        fresh = cachekey.fresh(float(at), ttl)
    except (OSError, ValueError):  # (a damaged verdict: not UTF-8, not three words, ...)
        return False
    return clean == "1" and fresh and table == cachekey.table_hash(environ)


def with_metadata(bake: BakeArgs, verify: bool) -> tuple[BakeArgs, str, str | None]:
    """bake's arguments with a metadata file to read after it: the user's own, else one of
    ours (returned third, for the caller to remove; bake creates it, and the name is this
    process's own: tempfile would cost an import before bake starts)."""
    user = bake.last("--metadata-file")
    if user is not None or not verify:
        return bake, user or "", None
    base = os.environ.get("TMPDIR") or "/tmp"
    ours = os.path.join(base, f"bakeguard-{os.getpid()}-{time.time_ns()}.json")
    return bake.plus("--metadata-file", ours), ours, ours


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


def _ci_output(environ: Mapping[str, str]) -> bool:
    """A CI system that gets a step summary or annotations from bakeguard (see ci.py)."""
    return environ.get("GITHUB_ACTIONS") == "true" or environ.get("GITLAB_CI") == "true"


def lower_priority() -> None:
    """This thread's CPU priority lowered (nice 10): its work must not slow bake."""
    with contextlib.suppress(AttributeError, OSError):  # Linux: a thread's nice is its own
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def preload_verification() -> None:
    """Verification's modules (the registry client's included), imported at low priority in
    a thread that runs while bake does: not after bake, where they would delay verification
    or slow `imagetools create` beside them on 2 cores."""
    lower_priority()
    import bakeguard.registry.verify  # noqa: F401


def _session(
    opts: GuardOptions, bake: BakeArgs, docker: Docker, record: Mapping[str, Any]
) -> Session:
    """The full path's session, made while bake runs (at low priority when that is in a
    thread of its own) or after it; `record` says what the run's cached decision was."""
    if threading.current_thread() is not threading.main_thread():
        lower_priority()
    from bakeguard import app, log

    log.configure(opts.verbose)
    session = app.Session(opts, bake, docker)
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
    quiet = not opts.verify and not opts.report and not _ci_output(os.environ)
    # started once bake runs: its imports would hold the GIL while bake is being started
    thread = threading.Thread(target=prepare, daemon=True)
    args, meta_path, ours = with_metadata(bake, opts.verify)
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
        from bakeguard import app

        if "session" not in box:  # not started (quiet), or it failed: do its work here
            prepare()
        session: app.Session = box["session"]
        return app.finishing(
            session, lambda: session.after_bake(code, box["defn_f"], box["env_f"], seen, meta_path)
        )
    finally:
        if ours:
            with contextlib.suppress(OSError):
                os.unlink(ours)


# ---------------------------------------------------------------- the split's fast path


def _split_path(
    opts: GuardOptions,
    bake: BakeArgs,
    docker: Docker,
    environ: Mapping[str, str],
    request: PrintRequest,
) -> str | None:
    """Where a split decision for exactly this run is cached; None when it cannot be."""
    if request.key is None:
        return None
    parts = (
        request.key,
        cachekey.probe_key(docker.binary, _builder(bake, environ), environ),
        cachekey.table_hash(environ),
        repr((opts.guard, opts.split, opts.split_suffix, opts.compat)),
    )
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
    return os.path.join(cachekey.cache_dir(environ), f"{digest}.split.json")


def remember_split(session: Session, definition: Mapping[str, Any], split: bool) -> None:
    """Written by the full path when it bakes a generated definition."""
    request = PrintRequest(session.docker, session.bake, session.environ)
    path = _split_path(session.opts, session.bake, session.docker, session.environ, request)
    if path is None:
        return
    doc = {
        "at": time.time(),
        "said": session.said,
        "record": {k: session.record[k] for k in ("mode", "advisories") if k in session.record},
        "split": split,
        "definition": definition,
    }
    import json

    cachekey.write_atomic(path, json.dumps(doc))


def split_entry(
    opts: GuardOptions,
    bake: BakeArgs,
    docker: Docker,
    environ: Mapping[str, str],
    request: PrintRequest,
) -> dict[str, Any] | None:
    """The cached split decision for this run, when fresh and usable: bakeguard's lines go
    to a console (JSON logs carry timestamps, CI output annotations: those take the full
    path), and it is not a shard."""
    if opts.guard == "off" or opts.shard or _ci_output(environ):
        return None
    if log_.log_format(environ) != "console":
        return None
    path = _split_path(opts, bake, docker, environ, request)
    if path is None or not os.path.exists(path):
        return None
    doc = cachekey.read_json(path)
    if not _is_split_entry(doc) or not cachekey.fresh(doc["at"], cachekey.ttl(environ)):
        return None  # (damaged: the full path decides again and rewrites it)
    return doc  # type: ignore[no-any-return]


def _is_split_entry(doc: Any) -> bool:
    """What `remember_split` writes, in every part `run_split` uses."""
    if not isinstance(doc, dict):
        return False
    said, record, definition = doc.get("said"), doc.get("record"), doc.get("definition")
    return (
        isinstance(said, list)
        and all(
            isinstance(s, list)
            and len(s) == 2
            and s[0] in ("debug", "info", "warning", "error")
            and isinstance(s[1], str)
            for s in said
        )
        and isinstance(record, dict)
        and set(record) <= {"mode", "advisories"}
        and isinstance(doc.get("split"), bool)
        and cachekey.is_definition(definition)
        and bool(definition.get("target"))
    )


def run_split(opts: GuardOptions, bake: BakeArgs, docker: Docker, entry: Mapping[str, Any]) -> int:
    import tempfile

    colour = log_.console_colour(os.environ)
    for level, text in entry["said"]:
        print(log_.console_line(level, text, colour), file=sys.stderr, flush=True)
    box: dict[str, Any] = {}

    def prepare() -> None:
        from bakeguard import split

        session = _session(opts, bake, docker, entry["record"])
        box["session"] = session
        env_f = session.start_probe()
        session.note_env(env_f.result())
        defn_f = session.start_resolve(nice=True)
        defn = defn_f.result()[0]
        if defn is None:
            return
        s = split.Split(
            session, env_f.result(), defn, split=bool(entry["split"]), compat=session.compat
        )
        box["split"], box["plan"] = s, s.plan()
        if box["plan"].definition == entry["definition"]:
            s.prestart(box["plan"])
        if opts.verify:
            # (the registry client itself is made while imagetools runs: its connection)
            preload_verification()

    def background() -> None:
        lower_priority()  # before prepare's first import (the split's modules, ~25 ms of CPU)
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
    from bakeguard import app
    from bakeguard.errors import BakeguardError

    if "plan" not in box:
        prepare()  # here, so that what failed in the background raises for the user
    session: app.Session = box["session"]
    if "plan" not in box:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        err = BakeguardError(
            f"bake exited {code}, but the definition could not be resolved again to confirm "
            "the split's platforms",
            "run again; `bakeguard --guard-verify-only ARGS` checks the registry",
        )
        return app.finishing(session, lambda: _raise(err))
    plan = box["plan"]
    if plan.definition != definition:  # the cache said one thing, the definition another
        session.log.warning("the cached split plan is out of date; confirming the new plan")
    return app.finishing(session, lambda: box["split"].after_bake(plan, tmp, code, seen))


def _raise(e: BaseException) -> int:
    raise e
