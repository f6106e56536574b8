"""--guard-plan on the real stack and offline lists the same targets, platforms and tags."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import Stack, bakeguard, platforms_at, unique_repo

CORPUS = Path(__file__).parent.parent / "data" / "corpus"
CASES = [
    [],
    ["all"],
    ["app", "--set", "app.platform=linux/arm64"],
    ["--set", "*.tags=localhost:5000/x/y:z"],
    ["-f", "docker-bake.hcl", "-f", "override.hcl", "app"],
    ["matrix"],
    ["m-a", "--push"],
    ["-f", "corpus.json", "jsonapp", "--push"],
    ["app", "tools", "--push"],
]


def targets_of(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("target ")]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) or "default" for c in CASES])
def test_plan_real_and_offline_agree(stack: Stack, tmp_path: Path, args: list[str]) -> None:
    shutil.copytree(CORPUS, tmp_path / "c")
    env = stack.buildx("newest", TAG="v3", REPO=f"plan/{unique_repo()}")
    real = bakeguard(["--guard-plan", *args], env, tmp_path / "c")
    offline = bakeguard(
        ["--guard-plan", *args], {**env, "BAKEGUARD_PLAN_OFFLINE": "1"}, tmp_path / "c"
    )
    assert real.returncode == 0 and offline.returncode == 0, real.stderr + offline.stderr
    assert "bake --print" in real.stdout and "offline" in offline.stdout
    assert targets_of(real.stdout) == targets_of(offline.stdout) and targets_of(real.stdout)


def test_plan_names_the_mode_and_commands_and_builds_nothing(stack: Stack, project: Path) -> None:
    tag = f"localhost:5000/{unique_repo('plan')}/app:v1"
    env = stack.buildx("v0.21.1", TAG=tag, BAKEGUARD_PROBE_TTL="0")
    res = bakeguard(["--guard-plan", "--push"], env, project)
    assert res.returncode == 0, res.stderr
    assert "advisory docker-driver-double-push [error]" in res.stdout
    assert "mode: split (advisory docker-driver-double-push)" in res.stdout
    assert "imagetools create -t " + tag in res.stdout and f"verify {tag}" in res.stdout
    assert platforms_at(tag, env) == set()


def test_offline_names_what_it_cannot_evaluate(stack: Stack, tmp_path: Path) -> None:
    """A conditional is read (bake's semantics); a function bake's library lacks is refused
    with its name, file and line."""
    (tmp_path / "docker-bake.hcl").write_text(
        'variable "X" {\n  default = "a"\n}\n'
        'target "default" {\n  tags = [X == "a" ? tostring(X) : "r/b:1"]\n}\n'
    )
    res = bakeguard(["--guard-plan"], {**stack.env, "BAKEGUARD_PLAN_OFFLINE": "1"}, tmp_path)
    assert res.returncode == 2
    assert "cannot evaluate" in res.stderr
    assert "docker-bake.hcl:5: a call to the function tostring()" in res.stderr
