"""The split at monorepo scale on the buildx releases that need it (issue #25): a group bigger
than one bounded bake lands every platform of every target from the first attempt, and says
so in a few lines; `-j N` works on a buildx without `bake --jobs` (before v0.38.0), with
bake's exit code when a target fails."""

from __future__ import annotations

import json
from pathlib import Path

from tests import reports
from tests.helpers import THREE, Stack, bakeguard, platforms_at, run, unique_repo


def group(tmp_path: Path, n: int, platforms: list[str], broken: str | None = None) -> None:
    """n small FROM scratch targets in group "all" (target `broken` copies a missing file)."""
    (tmp_path / "Dockerfile").write_text(
        "FROM scratch\nARG TARGETARCH\nARG NAME\nCOPY hello-${TARGETARCH}.txt /${NAME}\n"
    )
    (tmp_path / "Broken.Dockerfile").write_text("FROM scratch\nCOPY missing.txt /\n")
    for arch in ("amd64", "arm64", "arm"):
        (tmp_path / f"hello-{arch}.txt").write_text(arch)
    names = [f"t{i:02d}" for i in range(n)]
    hcl = ['variable "REPO" {}', f'group "all" {{\n  targets = {json.dumps(names)}\n}}']
    for name in names:
        dockerfile = "Broken.Dockerfile" if name == broken else "Dockerfile"
        hcl.append(
            f'target "{name}" {{\n  dockerfile = "{dockerfile}"\n'
            f'  args = {{ NAME = "{name}" }}\n  platforms = {json.dumps(platforms)}\n'
            f'  tags = ["${{REPO}}/{name}:v1"]\n}}'
        )
    (tmp_path / "docker-bake.hcl").write_text("\n".join(hcl) + "\n")


def test_a_split_bigger_than_one_bake_lands_every_platform_on_v0_21_1(
    stack: Stack, tmp_path: Path
) -> None:
    """12 targets x 3 platforms: 36 builds, more than the docker driver's bounded bake (32):
    two bakes, no failing first attempt, no retry; the log says it in a few lines."""
    group(tmp_path, 12, sorted(THREE))
    repo = f"{stack.registry}/{unique_repo('scale')}"
    env = stack.buildx("v0.21.1", REPO=repo)
    report = tmp_path / "report.json"
    res = bakeguard(["--push", "all", "--guard-report", str(report)], env, tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "splitting per platform" in res.stderr
    assert "re-running" not in res.stderr and "no such job" not in res.stderr
    for i in range(12):
        assert platforms_at(f"{repo}/t{i:02d}:v1", env) == THREE, i
    assert "assembled 12 targets x 3 platforms" in res.stderr
    assert "36 per-platform tags stay in the registry" in res.stderr
    assert res.stderr.count("per-platform tags") == 1  # once, not a line per target
    doc = reports.load(report)
    assert len(doc["split"]) == 12
    for entry in doc["split"]:  # the per-target detail is the report's
        for p in entry["platform_sources"]:
            assert p["tags"] and p["tags"][0].startswith(f"{repo}/{entry['target']}:v1-")


def test_jobs_on_a_buildx_without_it_is_emulated_with_bake_s_exit_code(
    stack: Stack, tmp_path: Path
) -> None:
    """buildx v0.21.1 has no `bake -j`: bakeguard bakes 2 targets at a time. All good: every
    tag and one metadata file; one target failing: bake's own exit code, fail-fast as bake (the
    chunks after the failing one do not run), no metadata file (a failed bake writes none)."""
    group(tmp_path, 5, ["linux/amd64"])
    repo = f"{stack.registry}/{unique_repo('jobs')}"
    env = stack.buildx("v0.21.1", REPO=repo)
    meta = tmp_path / "meta.json"
    res = bakeguard(["--push", "-j", "2", "--metadata-file", str(meta), "all"], env, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "baking 5 targets in 3 bakes" in res.stderr
    assert sorted(json.loads(meta.read_text())) == [f"t{i:02d}" for i in range(5)]
    for i in range(5):
        assert platforms_at(f"{repo}/t{i:02d}:v1", env) == {"linux/amd64"}

    group(tmp_path, 5, ["linux/amd64"], broken="t02")
    repo2 = f"{stack.registry}/{unique_repo('jobs')}"
    env2 = stack.buildx("v0.21.1", REPO=repo2)
    plain = run(["docker", "buildx", "bake", "--push", "t02"], env2, tmp_path)
    assert plain.returncode != 0
    meta.unlink()
    res = bakeguard(["--push", "--jobs", "2", "--metadata-file", str(meta), "all"], env2, tmp_path)
    assert res.returncode == plain.returncode, res.stderr[-3000:]
    assert "unknown shorthand flag" not in res.stderr
    assert platforms_at(f"{repo2}/t00:v1", env2) == {"linux/amd64"}  # the chunk before it
    assert platforms_at(f"{repo2}/t04:v1", env2) == set()  # after it: not run (fail-fast)
    assert not meta.exists()
