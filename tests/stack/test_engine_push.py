"""The engine's second push is not a registry's rejection of BuildKit's, in any progress mode.

buildx < 0.22 on the docker driver with the containerd image store pushes every tag again
through the engine ("pushing NAME with docker") after BuildKit's own push. Behind a registry
that answers that second push with an error about OCI indexes (tests/front.py's
engine-oci-error mode), bake exits 1 although BuildKit's push was taken. --guard=auto used to
read that error as the registry rejecting BuildKit's push, retry with the docker-v2 profile
(whose Docker list the engine's push then got through) and remember docker-v2 for the host:
with --progress=quiet, where bake prints its final ERROR line only, and with several targets
in plain progress, where bake writes `[TARGET] ` into the engine's step and summary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from bakeguard import learned
from tests import reports
from tests.front import Front
from tests.helpers import Stack, bakeguard, platforms_at, unique_repo

TWO = {"linux/amd64", "linux/arm64"}
PROGRESS = {"quiet": ["--progress=quiet"], "plain": ["--progress=plain"], "auto": []}


def two_targets(where: Path, host: str) -> list[str]:
    """A bake file of two 2-platform targets (app, web) pushing to `host`; their tags."""
    repo = unique_repo("engine")
    tags = [f"{host}/{repo}/{name}:v1" for name in ("app", "web")]
    (where / "Dockerfile").write_text("FROM scratch\nARG WHO\nCOPY hello.txt /hello-${WHO}.txt\n")
    (where / "hello.txt").write_text(f"{repo}\n")
    (where / "docker-bake.hcl").write_text(
        'group "default" {\n  targets = ["app", "web"]\n}\n'
        + "".join(
            f'target "{name}" {{\n  platforms = ["linux/amd64", "linux/arm64"]\n'
            f'  tags = ["{tag}"]\n  args = {{ WHO = "{name}" }}\n}}\n'
            for name, tag in zip(("app", "web"), tags, strict=True)
        )
    )
    return tags


def taught_nothing(res: CompletedProcess[str], report: Path, env: dict[str, str]) -> None:
    """No profile remembered, tried or advised for the engine's failure."""
    assert learned.load(env) == {}, res.stderr[-3000:]
    assert not learned.exists(env)
    assert "rebuilding" not in res.stderr and "BAKEGUARD_COMPAT" not in res.stderr, res.stderr
    assert "may fit" not in res.stderr and "rejected the push" not in res.stderr
    doc = reports.load(report)
    assert "compat_detected" not in doc and doc["bake_exit_code"] == 1


@pytest.mark.parametrize("progress", list(PROGRESS))
@pytest.mark.parametrize("label", ["v0.21.1", "debian"])
def test_the_engine_s_failed_push_teaches_no_profile(
    stack: Stack, tmp_path: Path, front: Callable[..., Front], label: str, progress: str
) -> None:
    """Split (--guard=auto's answer to the advisory): every platform is confirmed, the tags
    assembled and verified, exit 0. Pushed as asked (--guard-split=never): bake's exit code
    stands, and the log names the engine's second push as the cause and says what each tag
    holds (BuildKit's push made both whole). Neither retries, advises or remembers a
    profile."""
    f = front(engine_oci_error=True)
    tags = two_targets(tmp_path, f"localhost:{f.port}")
    env = stack.buildx(label, XDG_CACHE_HOME=str(tmp_path / "cache"), BAKEGUARD_PROBE_TTL="0")

    report = tmp_path / "split.json"
    args = ["--push", *PROGRESS[progress]]
    res = bakeguard([*args, "--guard-report", str(report)], env, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    taught_nothing(res, report, env)
    assert "splitting per platform" in res.stderr
    assert "every platform's push is confirmed in the registry by digest" in res.stderr
    for tag in tags:
        assert platforms_at(tag, env) == TWO
    assert res.stderr.count("OK, 2/2 platforms") == 2

    (tmp_path / "hello.txt").write_text("pushed as asked\n")
    report = tmp_path / "plain.json"
    res = bakeguard([*args, "--guard-split=never", "--guard-report", str(report)], env, tmp_path)
    assert res.returncode == 1, res.stderr[-3000:]
    taught_nothing(res, report, env)
    assert "bake failed in the engine's second push, after BuildKit's own push: " in res.stderr
    assert "the engine's second push failed; the registry holds:" in res.stderr
    for tag, name in zip(tags, ("app", "web"), strict=True):
        assert f"{tag} (target {name}): present: holds linux/amd64, linux/arm64" in res.stderr
        assert platforms_at(tag, env) == TWO
    assert {e["state"] for e in reports.load(report)["tags"]} == {"present"}


@pytest.mark.parametrize("progress", ["quiet", "plain"])
def test_buildkit_s_own_rejection_is_still_retried_and_remembered(
    stack: Stack, tmp_path: Path, front: Callable[..., Front], progress: str
) -> None:
    """On the same builder (docker driver, buildx 0.21.1: the engine pushes too), a registry
    that takes only Docker types rejects BuildKit's push: that is a rejection, retried once
    with docker-v2 and remembered, in quiet progress as in plain."""
    f = front(docker_v2_only=True)
    host = f"localhost:{f.port}"
    tags = two_targets(tmp_path, host)
    env = stack.buildx("v0.21.1", XDG_CACHE_HOME=str(tmp_path / "cache"), BAKEGUARD_PROBE_TTL="0")
    res = bakeguard(["--push", f"--progress={progress}"], env, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "rebuilding from cache, once, with the docker-v2 profile" in res.stderr
    assert f"the docker-v2 profile worked for {host}; remembered" in res.stderr
    assert learned.load(env)[host].profile == "docker-v2"
    for tag in tags:
        assert platforms_at(tag, env) == TWO
