"""What bakeguard adds to bake's arguments: a metadata file to read after the bake
(`with_metadata`), and the generated definition it bakes instead of the user's files (a
split, or a compatibility profile), its files and its bake. Light on purpose: the fast
paths run this before anything heavy is imported."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence

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


# The split's retry bakes at most this many builds at once. The docker driver's BuildKit drops
# a build that has not started within seconds ("no such job", docker/buildx#3810): a big
# monorepo's split, a build per target and platform all at once, meets it, and then every
# build bake cancelled is to retry. bake's own limit (--jobs) is not in every buildx.
RETRY_BUILDS = 32


def bake(
    docker: Docker,
    args: BakeArgs,
    gen_file: str,
    meta: str,
    targets: Sequence[str],
    seen: Callable[[bytes], None],
) -> int:
    """A bake of a generated definition outside a Launch (the split's one retry of the
    platforms that did not land), RETRY_BUILDS targets at a time, one after another; their
    metadata merged into `meta`. bake's first failing exit code, else 0."""
    if len(targets) <= RETRY_BUILDS:
        argv, env, unset = bake_call(args, gen_file, meta, targets)
        return docker.run_bake(argv, env=env, unset=unset, tee=seen)
    import json

    code, merged = 0, {}
    for start in range(0, len(targets), RETRY_BUILDS):
        part = f"{meta}.{start}"
        argv, env, unset = bake_call(args, gen_file, part, targets[start : start + RETRY_BUILDS])
        code = docker.run_bake(argv, env=env, unset=unset, tee=seen) or code
        try:
            with open(part) as f:
                doc = json.load(f)
            os.unlink(part)
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict):
            merged.update(doc)
    with open(meta, "w") as f:
        json.dump(merged, f)
    return code


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
