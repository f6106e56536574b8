"""The split's retry bake (generated.bake): a monorepo's many builds go to bake a bounded
number at a time, and their metadata comes back as one file."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bakeguard import generated
from bakeguard.bakeargs import parse_bake


class Recording:
    """A docker whose bake writes each target's digest to the metadata file it is given."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.bakes: list[list[str]] = []
        self.fail_on = fail_on

    def run_bake(
        self,
        bake_args: Sequence[str],
        env: Mapping[str, str] | None = None,
        unset: Sequence[str] = (),
        tee: Callable[[bytes], None] | None = None,
    ) -> int:
        args = list(bake_args)
        meta = args[args.index("--metadata-file") + 1]
        targets = [a for a in args if a.startswith("t")]
        self.bakes.append(targets)
        Path(meta).write_text(json.dumps({t: {"containerimage.digest": f"d-{t}"} for t in targets}))
        return 1 if self.fail_on in targets else 0


def test_a_monorepo_s_retry_bakes_a_bounded_number_at_a_time(tmp_path: Path) -> None:
    docker = Recording(fail_on="t40")
    targets = [f"t{i}" for i in range(70)]
    meta = tmp_path / "meta.json"
    code = generated.bake(
        docker,  # type: ignore[arg-type]
        parse_bake(["--push"]),
        str(tmp_path / "gen.json"),
        str(meta),
        targets,
        lambda b: None,
    )
    assert [len(b) for b in docker.bakes] == [32, 32, 6]  # every build, 32 at most at once
    assert code == 1  # a failing part's exit code is the retry's
    got = json.loads(meta.read_text())
    assert sorted(got) == sorted(targets)  # every part's metadata, in the one file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json"]


def test_a_small_retry_is_one_bake(tmp_path: Path) -> None:
    docker = Recording()
    generated.bake(
        docker,  # type: ignore[arg-type]
        parse_bake(["--push"]),
        str(tmp_path / "gen.json"),
        str(tmp_path / "meta.json"),
        ["t1", "t2"],
        lambda b: None,
    )
    assert docker.bakes == [["t1", "t2"]]
