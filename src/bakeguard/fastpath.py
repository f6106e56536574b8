"""The guarded run's fast path.

When a recent full run on this machine found that no advisory can apply to this builder
(the probe's cache, same key and TTL, plus the advisory table's identity), bake starts at
once. Meanwhile a low-priority thread imports the rest of bakeguard, resolves the definition
with a niced `bake --print` and warms the registry client; after bake, verification runs as
on the full path. Nothing here imports more than the standard library and the light modules
(options, docker, cachekey), so a guarded, cached push costs little more than bake itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bakeguard import cachekey
from bakeguard.docker import Docker, Tail
from bakeguard.options import BakeArgs, GuardOptions

if TYPE_CHECKING:
    from concurrent.futures import Future


def uses_compose(bake: BakeArgs, environ: Mapping[str, str], cwd: str) -> bool:
    files = bake.values("--file") or [
        f for f in environ.get("BUILDX_BAKE_FILE", "").split(os.pathsep) if f
    ]
    if files:
        return any(f.endswith((".yml", ".yaml")) for f in files)
    return any(os.path.exists(os.path.join(cwd, f)) for f in cachekey.COMPOSE_FILES)


def _path(docker: Docker, bake: BakeArgs, environ: Mapping[str, str]) -> str:
    name = bake.last("--builder") or environ.get("BUILDX_BUILDER") or None
    key = cachekey.probe_key(docker.binary, name, environ)
    return os.path.join(cachekey.cache_dir(environ), f"{key}.early.json")


def _argument_facts(bake: BakeArgs, environ: Mapping[str, str]) -> bool:
    """Facts from the arguments that advisories also test; the cached verdict assumed none."""
    return (bake.flag_set("--load") and bake.flag_set("--push")) or uses_compose(
        bake, environ, os.getcwd()
    )


def remember(docker: Docker, bake: BakeArgs, environ: Mapping[str, str], clean: bool) -> None:
    """Written by the full path: may the next run skip the pre-build matching?"""
    ttl = cachekey.ttl(environ)
    if ttl <= 0 or _argument_facts(bake, environ):
        return
    path = _path(docker, bake, environ)
    doc = {"at": time.time(), "table": cachekey.table_hash(environ), "clean": clean}
    cachekey.write_atomic(path, json.dumps(doc))


def eligible(
    opts: GuardOptions, bake: BakeArgs, docker: Docker, environ: Mapping[str, str]
) -> bool:
    if opts.split == "always" or opts.compat or opts.shard or opts.guard == "off":
        return False
    ttl = cachekey.ttl(environ)
    if ttl <= 0 or _argument_facts(bake, environ):
        return False
    try:
        with open(_path(docker, bake, environ)) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return False
    return (
        doc.get("clean") is True
        and time.time() - float(doc.get("at", 0)) < ttl
        and doc.get("table") == cachekey.table_hash(environ)
    )


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


def _ci_output(environ: Mapping[str, str]) -> bool:
    """A CI system that gets a step summary or annotations from bakeguard (see ci.py)."""
    return environ.get("GITHUB_ACTIONS") == "true" or environ.get("GITLAB_CI") == "true"


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # Linux: a thread's nice is its own
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def run(opts: GuardOptions, bake: BakeArgs, docker: Docker) -> int:
    box: dict[str, Any] = {}

    def prepare() -> None:
        if threading.current_thread() is not threading.main_thread():
            _lower_priority()
        from bakeguard import app, log

        log.configure(opts.verbose)
        session = app.Session(opts, bake, docker)
        session.record["mode"] = "plain"
        session.record["fast_path"] = True
        box["env_f"] = session.start_probe()
        if opts.verify or opts.report or box.get("failed"):
            box["defn_f"] = session.start_resolve(nice=not box.get("failed"))
        else:
            from concurrent.futures import Future

            done: Future[tuple[Any, str]] = Future()
            done.set_result((None, "verification is off"))
            box["defn_f"] = done
        box["session"] = session
        if opts.verify:
            session.warm_registry(box["env_f"], box["defn_f"])

    # Nothing to verify, report or annotate: a successful bake needs nothing more from
    # bakeguard, so the rest of it is loaded only if bake fails (to read the error).
    quiet = not opts.verify and not opts.report and not _ci_output(os.environ)
    thread = threading.Thread(target=prepare, daemon=True)
    if not quiet:
        thread.start()
    args, meta_path, ours = with_metadata(bake, opts.verify)
    try:
        seen = Tail()
        code = docker.run_bake(args.argv, tee=seen)
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
