"""What recent runs on this machine remember, read before bake starts: that no advisory can
apply to a builder (a verdict), a resolved definition's cache identity (`PrintRequest`), and
a split decision with the generated definition it baked. Standard library and the light
modules only: reading them must cost little more than bake's own start."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Mapping, Sequence

from bakeguard import cachekey, compose, learned
from bakeguard import log as log_
from bakeguard.bakeargs import BakeArgs
from bakeguard.docker import Docker, Result
from bakeguard.options import GuardOptions

TYPE_CHECKING = False  # typing is not imported before bake starts
if TYPE_CHECKING:
    import subprocess
    from typing import Any


def uses_compose(bake: BakeArgs, environ: Mapping[str, str], cwd: str) -> bool:
    return bool(compose.files(bake.values("--file"), environ, cwd))


def _path(docker: Docker, bake: BakeArgs, environ: Mapping[str, str]) -> str:
    key = cachekey.probe_key(docker.binary, _builder(bake, environ), environ)
    return os.path.join(cachekey.cache_dir(environ), f"{key}.early")


def _argument_facts(bake: BakeArgs, environ: Mapping[str, str]) -> bool:
    """Facts from the arguments that advisories also test, or that need the probe first (a
    --jobs that buildx before 0.38 lacks: bakeguard bakes in chunks); the cached verdict
    assumed none."""
    if bake.last("--jobs") is not None:
        return True
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
        # (--jobs changes nothing printed, and a buildx before 0.38 rejects it)
        self.args = bake.without("--metadata-file", "--jobs").plus("--print").argv
        self.key = self.path = None
        # (a definition read from a stream is this run's alone: bakeguard.streams)
        if cachekey.ttl(environ) > 0 and docker.definitions is None:
            files = bake.values("--file")
            self.key = cachekey.definition_key(
                docker.binary, self.args, files, environ, os.getcwd()
            )
        if self.key is not None:
            base = os.path.dirname(cachekey.cache_dir(environ))
            folder = os.path.join(base, cachekey.DEFINITIONS)
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
    if opts.compat_memory and learned.exists(environ):  # may apply: the full path decides
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
        learned.fingerprint(environ) if opts.compat_memory else "-",
    )
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
    return os.path.join(cachekey.cache_dir(environ), f"{digest}{SPLIT_SUFFIX}")


# A split decision's file. "-2": older bakeguards' (".split.json") kept the generated
# definition with its build args' values; they are removed when a decision is written.
SPLIT_SUFFIX, OLD_SPLIT_SUFFIX = ".split-2.json", ".split.json"


# the report's keys a split decision keeps for the fast path (what it said before bake)
_REMEMBERED_KEYS = ("mode", "advisories", "compat_remembered")


def remember_split(
    opts: GuardOptions,
    bake: BakeArgs,
    docker: Docker,
    environ: Mapping[str, str],
    said: Sequence[tuple[str, Sequence[str]]],
    record: Mapping[str, Any],
    definition: Mapping[str, Any],
    split: bool,
    jobs: tuple[bool, int] = (False, 32),
) -> None:
    """Written by the full path when it bakes a generated definition: what it said before
    bake, the report's mode and advisories, and the definition; not when the definition
    holds a value that may be secret (cachekey.holds_secrets: a build arg's, say), which the
    cache must not keep: such a run takes the full path each time."""
    request = PrintRequest(docker, bake, environ)
    path = _split_path(opts, bake, docker, environ, request)
    if path is None:
        return
    _forget_old_splits(os.path.dirname(path))
    if cachekey.holds_secrets(definition):
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    doc = {
        "at": time.time(),
        "said": [[level, list(lines)] for level, lines in said],
        "record": {k: record[k] for k in _REMEMBERED_KEYS if k in record},
        "split": split,
        "definition": definition,
        # how its bake is bounded (jobs.py: --jobs where buildx has it, and how many at once)
        "jobs": list(jobs),
    }
    import json

    cachekey.write_atomic(path, json.dumps(doc))


def _forget_old_splits(folder: str) -> None:
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            if name.endswith(OLD_SPLIT_SUFFIX):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(folder, name))


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
    if opts.guard == "off" or opts.shard or ci_output(environ):
        return None
    if log_.log_format(environ) != "console":
        return None
    path = _split_path(opts, bake, docker, environ, request)
    if path is None or not os.path.exists(path):
        return None
    doc = cachekey.read_json(path)
    if not _is_split_entry(doc) or not cachekey.fresh(doc.get("at"), cachekey.ttl(environ)):
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
            and isinstance(s[1], list)  # (the message's lines)
            and all(isinstance(line, str) for line in s[1])
            for s in said
        )
        and isinstance(record, dict)
        and set(record) <= set(_REMEMBERED_KEYS)
        and isinstance(doc.get("split"), bool)
        and isinstance(j := doc.get("jobs"), list)
        and len(j) == 2
        and isinstance(j[0], bool)
        and type(j[1]) is int
        and j[1] > 0
        and cachekey.is_definition(definition)
        and bool(definition.get("target"))
    )


def ci_output(environ: Mapping[str, str]) -> bool:
    """A CI system that gets a step summary or annotations from bakeguard (see ci.py)."""
    return environ.get("GITHUB_ACTIONS") == "true" or environ.get("GITLAB_CI") == "true"
