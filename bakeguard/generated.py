"""The generated definition bakeguard bakes instead of the user's files (a split, or a
compatibility profile): its files and its bake. Light on purpose: the split fast path runs
this before anything heavy is imported."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from bakeguard.docker import OWN_METADATA_ENV, Docker
from bakeguard.options import BakeArgs

TYPE_CHECKING = False  # typing costs ~2 ms before a fast path's bake starts
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


def bake(
    docker: Docker,
    args: BakeArgs,
    gen_file: str,
    meta: str,
    targets: Sequence[str],
    seen: Callable[[bytes], None],
    started: Callable[[], None] | None = None,
) -> int:
    """One bake of a generated definition (the whole definition: bake files named in the
    environment are not merged in). The
    metadata file is bakeguard's; bake's provenance goes in it only when the user asked for
    a metadata file of their own (their other targets' entries are copied from it)."""
    unset = [k for k in os.environ if k.startswith("BUILDX_BAKE_FILE")]
    argv = args.generated(gen_file, meta, targets)
    env = None if args.last("--metadata-file") else OWN_METADATA_ENV
    return docker.run_bake(argv, env=env, unset=unset, tee=seen, started=started)
