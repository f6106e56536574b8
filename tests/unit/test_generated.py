"""A generated definition's bake, bounded (generated.bounded, jobs.py): `--jobs` where buildx
has it (v0.38.0 on), else a bounded number of targets per bake, one bake after another, with
one bake's exit code and one metadata file."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from bakeguard import generated, jobs
from bakeguard.bakeargs import parse_bake
from bakeguard.errors import UsageError
from bakeguard.probe import Builder, EngineInfo, Environment, Node
from bakeguard.versions import parse_buildx_version


class Recording:
    """A docker whose bake writes each target's digest to the metadata file it is given
    (none when it fails, as bake does)."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.bakes: list[list[str]] = []
        self.argvs: list[list[str]] = []
        self.fail_on = fail_on

    def run_bake(
        self,
        bake_args: Sequence[str],
        env: Mapping[str, str] | None = None,
        unset: Sequence[str] = (),
        tee: Callable[[bytes], None] | None = None,
        started: Callable[[], None] | None = None,
    ) -> int:
        args = list(bake_args)
        self.argvs.append(args)
        meta = args[args.index("--metadata-file") + 1]
        targets = [a for a in args if a.startswith("t")]
        self.bakes.append(targets)
        if self.fail_on in targets:
            return 17
        Path(meta).write_text(json.dumps({t: {"containerimage.digest": f"d-{t}"} for t in targets}))
        return 0


def env_of(version: str, nodes: int = 1) -> Environment:
    node = Node("n", "unix:///var/run/docker.sock", "running", "v0.20.0", ())
    builder = Builder("default", "docker", (node,) * nodes)
    return Environment(
        parse_buildx_version(f"github.com/docker/buildx {version} abc"), builder, EngineInfo(True)
    )


def run(
    tmp_path: Path,
    argv: list[str],
    targets: list[str],
    native: bool,
    size: int = 32,
    docker: Recording | None = None,
    always_meta: bool = True,
) -> tuple[int, Recording]:
    docker = docker or Recording()
    b = generated.bounded(
        parse_bake(argv),
        str(tmp_path / "gen.json"),
        str(tmp_path / "meta.json"),
        targets,
        native,
        size,
        always_meta,
    )
    return b.run(docker, None), docker  # type: ignore[arg-type]


TARGETS = [f"t{i}" for i in range(70)]


def test_first_release_with_bake_jobs_is_v0_38_0() -> None:
    assert not jobs.native(env_of("v0.37.2"))
    assert not jobs.native(env_of("0.13.1+ds1"))
    assert not jobs.native(env_of("v0.21.1"))
    assert jobs.native(env_of("v0.38.0")) and jobs.native(env_of("v0.38.2"))
    assert not jobs.native(env_of("v0.0.0+unknown"))  # cannot place it: emulated, works anywhere
    assert jobs.at_once(env_of("v0.21.1", nodes=2)) == 2 * jobs.PER_NODE


def test_on_an_old_buildx_a_big_bake_runs_a_bounded_chunk_at_a_time(tmp_path: Path) -> None:
    code, docker = run(tmp_path, ["--push"], TARGETS, native=False)
    assert [len(b) for b in docker.bakes] == [32, 32, 6]  # every build, 32 at most at once
    assert code == 0
    assert sorted(json.loads((tmp_path / "meta.json").read_text())) == sorted(TARGETS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json"]  # the parts merged
    assert not any("--jobs" in a for a in docker.argvs)  # this buildx has no such flag


def test_where_buildx_has_jobs_it_is_passed_not_emulated(tmp_path: Path) -> None:
    """The first attempt is bounded: before, the split baked its 150 builds at once."""
    _code, docker = run(tmp_path, ["--push"], TARGETS, native=True)
    assert len(docker.bakes) == 1 and docker.bakes[0] == TARGETS
    argv = docker.argvs[0]
    assert argv[argv.index("--jobs") + 1] == "32"
    _code, docker = run(tmp_path, ["--push", "-j", "4"], TARGETS, native=True)
    assert docker.argvs[0].count("-j") == 1 and "--jobs" not in docker.argvs[0]  # the user's


def test_user_jobs_emulated_fail_fast_keeps_bake_s_code(tmp_path: Path) -> None:
    code, docker = run(
        tmp_path,
        ["--push", "-j", "10"],
        TARGETS,
        native=False,
        docker=Recording(fail_on="t15"),
        always_meta=False,
    )
    assert [len(b) for b in docker.bakes] == [10, 10]  # the failing chunk stops the rest
    assert code == 17
    assert not (tmp_path / "meta.json").exists()  # as one failed bake: no metadata file
    assert not any("-j" in a or "--jobs" in a for a in docker.argvs)


def test_user_jobs_defer_error_runs_every_chunk(tmp_path: Path) -> None:
    code, docker = run(
        tmp_path,
        ["--jobs=defer-error,parallel=30", "--push"],
        TARGETS,
        native=False,
        docker=Recording(fail_on="t5"),
    )
    assert [len(b) for b in docker.bakes] == [30, 30, 10] and code == 17
    assert len(json.loads((tmp_path / "meta.json").read_text())) == 40  # what landed


@pytest.mark.parametrize("bad", ["0", "fast", "fail-fast,parallel=x", "defer-error,n=2"])
def test_a_bad_jobs_value_is_a_usage_error(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UsageError, match="--jobs"):
        run(tmp_path, ["-j", bad], TARGETS, native=False)


def test_a_small_bake_is_one_bake(tmp_path: Path) -> None:
    _code, docker = run(tmp_path, ["--push"], ["t1", "t2"], native=False)
    assert docker.bakes == [["t1", "t2"]]
