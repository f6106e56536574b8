"""Picky registries on the real stack: explicit profiles, --guard=auto's one detected retry,
attestations dropped only where needed, and a profile combined with the split."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import reports
from tests.front import Front
from tests.helpers import THREE, Stack, bake, bakeguard, platforms_at, run, unique_repo

DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def raw_of(ref: str, env: dict[str, str]) -> dict[str, Any]:
    res = run(["docker", "buildx", "imagetools", "inspect", "--raw", ref], env)
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def has_attestations(doc: dict[str, Any]) -> bool:
    return any((m.get("platform") or {}).get("os") == "unknown" for m in doc.get("manifests", []))


@pytest.mark.parametrize("builder", ["bg-remote", "default"])
def test_docker_v2_only_with_explicit_profile(
    stack: Stack, project: Path, front: Callable[..., Front], builder: str
) -> None:
    f = front(docker_v2_only=True)
    host = f"localhost:{f.port}"
    tag = f"{host}/{unique_repo('v2')}/app:v1"
    env = stack.buildx("newest", TAG=tag)
    assert bake(["--push", "--builder", builder], env, project).returncode != 0  # plain bake fails
    res = bakeguard(
        ["--push", "--builder", builder], {**env, "BAKEGUARD_COMPAT": f"{host}=docker-v2"}, project
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "docker-v2 profile" in res.stderr and "OK, 3/3" in res.stderr
    doc = raw_of(tag, env)
    assert doc["mediaType"] == DOCKER_LIST and not has_attestations(doc)
    assert platforms_at(tag, env) == THREE


def test_auto_detects_retries_once_and_prints_the_setting(
    stack: Stack, project: Path, front: Callable[..., Front]
) -> None:
    f = front(docker_v2_only=True)
    host = f"localhost:{f.port}"
    tag = f"{host}/{unique_repo('v2auto')}/app:v1"
    env = stack.buildx("newest", TAG=tag, BAKEGUARD_COMPAT_MEMORY="false")
    res = bakeguard(["--push", "--builder", "bg-remote"], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    retrying = res.stderr.index("rebuilding from cache, once, with the docker-v2 profile")
    # with memory off, the setting is advice, and only once the retry with it worked
    assert res.stderr.index(f"set BAKEGUARD_COMPAT={host}=docker-v2") > retrying
    assert raw_of(tag, env)["mediaType"] == DOCKER_LIST
    rejected = [
        s for s in f.seen if s.method == "PUT" and "/manifests/" in s.path and s.status == 400
    ]
    assert rejected  # the first push really was rejected


def test_a_retry_that_worked_is_remembered_and_used_up_front_next_time(
    stack: Stack, project: Path, front: Callable[..., Front], tmp_path: Path
) -> None:
    """A front that takes only Docker types teaches docker-v2 once; the next runs (the full
    path, then the split fast path) push Docker types at once: no rejection, no retry. A
    setting wins over memory; forgetting ends it."""
    f = front(docker_v2_only=True)
    host = f"localhost:{f.port}"
    repo = unique_repo("learn")
    env = stack.buildx("newest", XDG_CACHE_HOME=str(tmp_path / "cache"))
    args = ["--push", "--builder", "bg-remote"]

    def rejected() -> int:
        return sum(
            1 for s in f.seen if s.method == "PUT" and "/manifests/" in s.path and s.status == 400
        )

    first = bakeguard(args, {**env, "TAG": f"{host}/{repo}/app:v1"}, project)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "rebuilding from cache, once, with the docker-v2 profile" in first.stderr
    assert f"the docker-v2 profile worked for {host}; remembered" in first.stderr
    assert rejected() > 0
    doctor = bakeguard(["--guard-doctor", *args], {**env, "TAG": f"{host}/{repo}/app:v1"}, project)
    assert f"{host}: docker-v2 since " in doctor.stdout and "used up front" in doctor.stdout

    for n, tag in enumerate([f"{host}/{repo}/app:v2", f"{host}/{repo}/app:v2"]):
        before = rejected()
        report = tmp_path / f"report-{n}.json"
        res = bakeguard([*args, f"--guard-report={report}"], {**env, "TAG": tag}, project)
        assert res.returncode == 0, res.stderr[-3000:]
        line = f"registry {host}: the docker-v2 profile, as remembered since "
        assert res.stderr.count(line) == 1, res.stderr  # said once, on the fast path too
        assert "rebuilding" not in res.stderr and "OK, 3/3" in res.stderr
        assert rejected() == before  # Docker types from the start: nothing was rejected
        assert raw_of(tag, env)["mediaType"] == DOCKER_LIST
        doc = reports.load(report)
        assert [e["host"] for e in doc["compat_remembered"]] == [host]
        assert "compat_detected" not in doc
    assert reports.load(report).get("fast_path") is True  # the repeat took it

    # a setting wins: BuildKit's defaults for that host, rejected, named as a lead (warn)
    res = bakeguard(
        [*args, "--guard=warn"],
        {**env, "TAG": f"{host}/{repo}/app:v3", "BAKEGUARD_COMPAT": f"{host}=oci"},
        project,
    )
    assert res.returncode != 0 and "as remembered" not in res.stderr
    assert "the docker-v2 profile may fit" in res.stderr

    forget = bakeguard([f"--guard-forget-compat={host}"], env, project)
    assert forget.returncode == 0 and f"forgot {host}: the docker-v2 profile" in forget.stdout
    doctor = bakeguard(["--guard-doctor", *args], {**env, "TAG": f"{host}/{repo}/app:v1"}, project)
    assert "remembered registry profiles: none" in doctor.stdout


def test_warn_names_the_profile_untried(
    stack: Stack, project: Path, front: Callable[..., Front]
) -> None:
    f = front(docker_v2_only=True)
    host = f"localhost:{f.port}"
    env = stack.buildx("newest", TAG=f"{host}/{unique_repo('v2x')}/app:v1")
    res = bakeguard(["--push", "--builder", "bg-remote", "--guard=warn"], env, project)
    assert res.returncode != 0
    assert "the docker-v2 profile may fit" in res.stderr  # named as a lead, untried
    assert "rebuilding" not in res.stderr and "BAKEGUARD_COMPAT" not in res.stderr


def test_no_attestations_only_for_that_host(
    stack: Stack, front: Callable[..., Front], tmp_path: Path
) -> None:
    f = front(no_attestations=True)
    host = f"localhost:{f.port}"
    repo = unique_repo("noatt")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /\n")
    (tmp_path / "hello.txt").write_text(repo)
    (tmp_path / "docker-bake.hcl").write_text(
        'group "default" {\n  targets = ["picky", "plain"]\n}\n'
        f'target "picky" {{\n  platforms = ["linux/amd64", "linux/arm64"]\n'
        f'  tags = ["{host}/{repo}/picky:v1"]\n}}\n'
        f'target "plain" {{\n  platforms = ["linux/amd64", "linux/arm64"]\n'
        f'  tags = ["localhost:5000/{repo}/plain:v1"]\n}}\n'
    )
    env = stack.buildx("newest", XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert bake(["--push", "--builder", "bg-remote"], env, tmp_path).returncode != 0
    for extra in ({"BAKEGUARD_COMPAT": f"{host}=no-attestations"}, {}):
        # the user's own --provenance applies everywhere but where the profile turns it off
        res = bakeguard(
            ["--push", "--builder", "bg-remote", "--provenance=mode=max"],
            {**env, **extra},
            tmp_path,
        )
        assert res.returncode == 0, res.stderr[-3000:]
        assert not has_attestations(raw_of(f"{host}/{repo}/picky:v1", env))
        assert has_attestations(raw_of(f"localhost:5000/{repo}/plain:v1", env))
    assert f"the no-attestations profile worked for {host}; remembered" in res.stderr


def test_profile_with_the_split_field_case(
    stack: Stack, project: Path, front: Callable[..., Front]
) -> None:
    f = front(msr=True, docker_v2_only=True)
    host = f"localhost:{f.port}"
    tag = f"{host}/{unique_repo('v2split')}/app:v1"
    env = stack.buildx("v0.21.1", TAG=tag, BAKEGUARD_COMPAT=f"{host}=docker-v2")
    res = bakeguard(["--push"], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "splitting per platform" in res.stderr and "docker-v2 profile" in res.stderr
    doc = raw_of(tag, env)
    assert doc["mediaType"] == DOCKER_LIST and platforms_at(tag, env) == THREE


def test_fast_path_without_verification_still_detects_a_rejection(
    stack: Stack, project: Path, front: Callable[..., Front], tmp_path: Path
) -> None:
    """With verification off, a guarded run on a clean builder loads nothing beyond bake on
    success; when bake fails it still reads the rejection and retries with the profile."""
    env = stack.buildx("newest", XDG_CACHE_HOME=str(tmp_path / "cache"))
    ok = bakeguard(
        ["--push", "--builder", "bg-remote"],
        {**env, "TAG": f"localhost:5000/{unique_repo('prime')}/app:v1"},
        project,
    )
    assert ok.returncode == 0  # a full run: records that no advisory applies to bg-remote
    f = front(docker_v2_only=True)
    host = f"localhost:{f.port}"
    tag = f"{host}/{unique_repo('quiet')}/app:v1"
    quiet = bakeguard(
        ["--push", "--builder", "bg-remote", "--guard-verify=false", "--progress=quiet"],
        {**env, "TAG": f"localhost:5000/{unique_repo()}/a:1"},
        project,
    )
    assert quiet.returncode == 0 and "bakeguard" not in quiet.stderr
    res = bakeguard(
        ["--push", "--builder", "bg-remote", "--guard-verify=false"], {**env, "TAG": tag}, project
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"the docker-v2 profile worked for {host}; remembered" in res.stderr
    assert raw_of(tag, env)["mediaType"] == DOCKER_LIST


def test_shards_push_with_the_remembered_profile_and_merge_a_docker_list(
    stack: Stack, project: Path, front: Callable[..., Front], tmp_path: Path
) -> None:
    """Shard jobs use the profile remembered for their registry (they used to ignore every
    profile, and a shard's retry promised what later shards did not do)."""
    from bakeguard import learned

    f = front(docker_v2_only=True)
    host = f"localhost:{f.port}"
    tag = f"{host}/{unique_repo('v2shard')}/app:v1"
    env = stack.buildx("newest", TAG=tag, XDG_CACHE_HOME=str(tmp_path / "cache"))
    learned.learn(env, host, "docker-v2", "400 manifest invalid (seeded by the test)")
    digests = tmp_path / "digests"
    for plats in ("linux/amd64", "linux/arm64,linux/arm/v7"):
        args = ["--push", "--builder", "bg-remote", "--guard-shard", plats]
        res = bakeguard([*args, "--guard-digests", str(digests)], env, project)
        assert res.returncode == 0, res.stderr[-3000:]
        assert f"registry {host}: the docker-v2 profile, as remembered" in res.stderr
        assert "rebuilding" not in res.stderr
    res = bakeguard(["--guard-merge", str(digests)], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "OK, 3/3" in res.stderr and raw_of(tag, env)["mediaType"] == DOCKER_LIST
    assert not [s for s in f.seen if s.method == "PUT" and s.status == 400]
