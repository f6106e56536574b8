"""How many builds one bake runs at once, and a bake of many targets run as bounded chunks
where buildx cannot bound it itself.

`bake --jobs/-j` first appears in buildx v0.38.0 (commands/bake.go:
`flags.StringVarP(&options.jobs, "jobs", "j", "fail-fast", ...)`; its parseBakeJobs reads "N"
or "MODE[,parallel=N]", MODE one of fail-fast, defer-output, defer-error); v0.37.2 and
earlier reject the flag. Where buildx has it, bakeguard passes it; where not, it runs the
targets a chunk at a time, one bake after another, and gives the exit code and metadata file
one bake would. Light on purpose: the fast paths import it before their bake starts."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from bakeguard.docker import Docker

TYPE_CHECKING = False  # typing is not imported before a fast path's bake starts
if TYPE_CHECKING:
    from collections.abc import Mapping

    from bakeguard.probe import Environment

JOBS_SINCE = (0, 38, 0)  # the first buildx release with `bake --jobs`
MODES = ("fail-fast", "defer-output", "defer-error")

# Builds one bake runs at once, per builder node. The docker driver's BuildKit drops a build
# that has not started within seconds ("no such job", docker/buildx#3810): a monorepo's split,
# a build per target and platform all at once, meets it at 150 builds on one node, while
# bakes of 32 builds have never lost one (the split's retry used that size before it bounded
# the first attempt). A node's BuildKit runs the builds it gets concurrently, so more nodes
# take proportionally more.
PER_NODE = 32

# `imagetools create` processes started beside bake (each a Go process waiting on its
# sources). The assembly runs a few targets at once (split/finish.py ASSEMBLERS); a
# process per target of a monorepo would only hold memory and CPU while bake needs them.
PRESTARTED = 8


def parse(value: str) -> tuple[str, int | None]:
    """bake's --jobs value: "N", or "MODE[,parallel=N]" (buildx's parseBakeJobs); raises
    ValueError naming what is wrong."""
    text = value.strip()
    if text.isdigit():
        if int(text) < 1:
            raise ValueError(f"--jobs {value}: the number of builds at once must be 1 or more")
        return "fail-fast", int(text)
    mode, _, rest = text.partition(",")
    if mode not in MODES:
        raise ValueError(f"--jobs {value}: give N, or one of {', '.join(MODES)}[,parallel=N]")
    if not rest:
        return mode, None
    key, eq, n = rest.partition("=")
    if key != "parallel" or not eq or not n.isdigit() or int(n) < 1:
        raise ValueError(f"--jobs {value}: after the mode only parallel=N (N ≥ 1) may follow")
    return mode, int(n)


def native(env: Environment) -> bool:
    """The buildx in use has `bake --jobs` (a version it cannot place: emulated, which works
    on every buildx)."""
    v = env.buildx.version
    return v is not None and v.release[:3] >= JOBS_SINCE


def at_once(env: Environment) -> int:
    """Builds one bake of a generated definition runs at once on this builder."""
    return max(1, env.node_count) * PER_NODE


class Chunked:
    """Bakes of a target list a chunk at a time, one after another, run as one bake: bake's
    stderr goes to the same tee, `started` fires once the first runs, each chunk's metadata
    file is merged into `meta`. fail_fast (bake's default mode): a failing chunk stops the
    rest, and its exit code is the run's; otherwise every chunk runs and the first failing
    code is kept. `always_meta`: write the merged metadata even when a chunk failed (a
    failed bake writes none; bakeguard's own reading wants what did land)."""

    __slots__ = ("always_meta", "argvs", "fail_fast", "meta", "parts", "ran")

    def __init__(
        self,
        argvs: Sequence[Sequence[str]],
        parts: Sequence[str],
        meta: str,
        fail_fast: bool = True,
        always_meta: bool = True,
    ) -> None:
        self.argvs, self.parts, self.meta = argvs, parts, meta
        self.fail_fast, self.always_meta = fail_fast, always_meta
        self.ran = 0  # chunks run

    def run(
        self,
        docker: Docker,
        env: Mapping[str, str] | None,
        unset: Sequence[str],
        tee: Callable[[bytes], None] | None,
        started: Callable[[], None] | None = None,
    ) -> int:
        code = 0
        for argv in self.argvs:
            got = docker.run_bake(argv, env=env, unset=unset, tee=tee, started=started)
            started, self.ran = None, self.ran + 1
            code = code or got
            if got and self.fail_fast:
                break
        self._merge(code == 0 or self.always_meta)
        return code

    def _merge(self, write: bool) -> None:
        import json

        merged: dict[str, object] = {}
        for part in self.parts:
            try:
                with open(part) as f:
                    doc = json.load(f)
                os.unlink(part)
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict):
                merged.update(doc)
        if write:
            with open(self.meta, "w") as f:
                json.dump(merged, f, indent=2)


def chunks(targets: Sequence[str], size: int) -> list[list[str]]:
    return [list(targets[i : i + size]) for i in range(0, len(targets), max(1, size))]
