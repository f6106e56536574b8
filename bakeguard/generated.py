"""What bakeguard adds to bake's arguments: a metadata file to read after the bake
(`with_metadata`), and the generated definition it bakes instead of the user's files (a
split, or a compatibility profile), its files and its bake. Light on purpose: the fast
paths run this before anything heavy is imported."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence

from bakeguard import jobs
from bakeguard.bakeargs import BakeArgs
from bakeguard.docker import OWN_METADATA_ENV, Docker

TYPE_CHECKING = False  # typing is not imported before a fast path's bake starts
if TYPE_CHECKING:
    from typing import Any

GENERATED, METADATA = "bakeguard-split.json", "metadata.json"


def paths(folder: str) -> tuple[str, str]:
    """The generated definition's file in `folder`, and where bake writes its metadata."""
    return os.path.join(folder, GENERATED), os.path.join(folder, METADATA)


def write(folder: str, definition: Mapping[str, Any]) -> tuple[str, str]:
    """`paths(folder)`, the generated definition written to the first."""
    import json  # (not before a plain fast path's bake: json loads re)

    gen, meta = paths(folder)
    with open(gen, "w") as f:
        json.dump(definition, f, indent=2)
    return gen, meta


def bake_call(
    args: BakeArgs, gen_file: str, meta: str, targets: Sequence[str]
) -> tuple[list[str], Mapping[str, str] | None, list[str]]:
    """bake's arguments, added and removed variables for one bake of a generated definition
    (the whole definition: bake files named in the environment are not merged in). The
    metadata file is bakeguard's; bake's provenance goes in it only when the user asked for
    a metadata file of their own (their other targets' entries are copied from it)."""
    unset = [k for k in os.environ if k.startswith("BUILDX_BAKE_FILE")]
    env = None if args.last("--metadata-file") else OWN_METADATA_ENV
    return args.generated(gen_file, meta, targets), env, unset


class Bake:
    """One bake of a generated definition as bakeguard runs it: `argv` (the first chunk's
    when chunked), its environment, and `chunked` when buildx cannot bound it itself."""

    __slots__ = ("argv", "chunked", "env", "unset")

    def __init__(
        self,
        argv: list[str],
        env: Mapping[str, str] | None,
        unset: list[str],
        chunked: jobs.Chunked | None,
    ) -> None:
        self.argv, self.env, self.unset, self.chunked = argv, env, unset, chunked

    def run(
        self,
        docker: Docker,
        tee: Callable[[bytes], None] | None,
        started: Callable[[], None] | None = None,
    ) -> int:
        if self.chunked is not None:
            return self.chunked.run(docker, self.env, self.unset, tee, started)
        return docker.run_bake(self.argv, env=self.env, unset=self.unset, tee=tee, started=started)


def bounded(
    args: BakeArgs,
    gen_file: str,
    meta: str,
    targets: Sequence[str],
    native: bool,
    size: int,
    always_meta: bool = True,
) -> Bake:
    """A bake of `targets` of a generated definition, at most `size` builds at once (or what
    the user's --jobs says): `--jobs` where buildx has it (`native`), else chunks of that
    many targets baked one after another (jobs.Chunked)."""
    user = args.last("--jobs")
    if native:
        if user is None:
            args = args.plus("--jobs", str(size))
        return Bake(*bake_call(args, gen_file, meta, targets), None)
    fail_fast = True
    if user is not None:
        try:
            mode, parallel = jobs.parse(user)
        except ValueError as e:
            from bakeguard.errors import UsageError

            raise UsageError(str(e), "see `docker buildx bake --help` of buildx ≥ 0.38") from None
        size, fail_fast = parallel or size, mode == "fail-fast"
        args = args.without("--jobs")
    if len(targets) <= size:
        return Bake(*bake_call(args, gen_file, meta, targets), None)
    parts, argvs = [], []
    env: Mapping[str, str] | None = None
    unset: list[str] = []
    for n, chunk in enumerate(jobs.chunks(targets, size)):
        parts.append(f"{meta}.{n}")
        argv, env, unset = bake_call(args, gen_file, parts[-1], chunk)
        argvs.append(argv)
    chunked = jobs.Chunked(argvs, parts, meta, fail_fast, always_meta)
    return Bake(argvs[0], env, unset, chunked)


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


def remove(path: str | None) -> None:
    """A metadata file of bakeguard's (`with_metadata`'s third), once bake and its reading
    are done."""
    if path:
        with contextlib.suppress(OSError):
            os.unlink(path)
