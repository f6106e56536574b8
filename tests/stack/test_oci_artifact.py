"""BuildKit >= 0.32's OCI-artifact attestations on the real stack (issue #26): the advisory
fires on the remote builder (BuildKit v0.34.2), a front answering as GitLab or Aliyun ACR does
refuses the push, and --guard=auto's one retry with the no-oci-artifact profile
(oci-artifact=false) lands every platform with its attestations, verified, and is remembered.
And the facts behind it: the engine's version, and the docker driver's BuildKit from it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bakeguard import engines, learned
from tests import reports
from tests.front import Front
from tests.helpers import THREE, Stack, bake, bakeguard, platforms_at, run, unique_repo

OCI = "buildkit-oci-artifact-attestations"


def raw_of(ref: str, env: dict[str, str]) -> dict[str, Any]:
    res = run(["docker", "buildx", "imagetools", "inspect", "--raw", ref], env)
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def attestation_manifests(tag: str, env: dict[str, str]) -> list[dict[str, Any]]:
    repo = tag.rsplit(":", 1)[0]
    index = raw_of(tag, env)
    entries = [m for m in index["manifests"] if (m.get("platform") or {}).get("os") == "unknown"]
    return [raw_of(f"{repo}@{m['digest']}", env) for m in entries]


def referrer_puts(f: Front, status: int) -> int:
    return sum(
        1 for s in f.seen if s.method == "PUT" and "/manifests/" in s.path and s.status == status
    )


def test_the_oci_artifact_advisory_fires_on_the_remote_builder(stack: Stack, project: Path) -> None:
    env = stack.buildx("newest", TAG=f"localhost:5000/{unique_repo('ociadv')}/app:v1")
    doctor = bakeguard(["--guard-doctor", "--push", "--builder", "bg-remote"], env, project)
    assert "node bg-remote0: BuildKit v0.34.2" in doctor.stdout
    assert f"advisory {OCI} [info]: applies" in doctor.stdout, doctor.stdout
    # the escape hatches turn it off: the output's own attribute, or buildx >= 0.36.1's variable
    for extra, args in (
        ({"BUILDX_NO_DEFAULT_OCI_ARTIFACT": "1"}, []),
        ({}, ["--set", "*.output=type=registry,oci-artifact=false"]),
    ):
        off = bakeguard(
            ["--guard-doctor", "--push", "--builder", "bg-remote", *args], {**env, **extra}, project
        )
        assert off.returncode == 0 and OCI not in off.stdout, off.stdout


@pytest.mark.parametrize(
    ("like", "words"),
    [
        ("gitlab", "unknown: blob unknown to registry - sha256:"),
        ("aliyun", "denied: unknown manifest class for application/vnd.oci.empty.v1+json"),
    ],
)
def test_a_registry_refusing_oci_artifacts_is_retried_with_no_oci_artifact_and_remembered(
    stack: Stack,
    project: Path,
    front: Callable[..., Front],
    tmp_path: Path,
    like: str,
    words: str,
) -> None:
    f = front(refuse_referrers=like)
    host = f"localhost:{f.port}"
    repo = unique_repo(f"oci{like}")
    env = stack.buildx("newest", XDG_CACHE_HOME=str(tmp_path / "cache"))
    args = ["--push", "--builder", "bg-remote"]

    plain = bake(args, {**env, "TAG": f"{host}/{repo}/app:v0"}, project)
    assert plain.returncode != 0 and words in plain.stderr, plain.stderr[-2000:]

    tag = f"{host}/{repo}/app:v1"
    report = tmp_path / "report.json"
    res = bakeguard([*args, f"--guard-report={report}"], {**env, "TAG": tag}, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "rebuilding from cache, once, with the no-oci-artifact profile" in res.stderr
    assert f"the no-oci-artifact profile worked for {host}; remembered" in res.stderr
    assert "OK, 3/3" in res.stderr and platforms_at(tag, env) == THREE
    doc = reports.load(report)
    assert doc["compat_detected"] == [
        {"host": host, "profile": "no-oci-artifact", "retry": "succeeded", "remembered": True}
    ]
    assert all(o["ok"] for o in doc["verification"])
    # attestations kept, one per platform, in the form the registry takes
    kept = attestation_manifests(tag, env)
    assert len(kept) == 3
    assert not [m for m in kept if "subject" in m or "artifactType" in m]
    (entry,) = learned.load(env).values()
    assert (entry.host, entry.profile) == (host, "no-oci-artifact") and words in entry.error

    # the next run pushes that form up front: nothing refused, nothing retried
    refused = referrer_puts(f, 404) + referrer_puts(f, 403)
    again = bakeguard(args, {**env, "TAG": f"{host}/{repo}/app:v2"}, project)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"registry {host}: the no-oci-artifact profile, as remembered since" in again.stderr
    assert "rebuilding" not in again.stderr and "OK, 3/3" in again.stderr
    assert referrer_puts(f, 404) + referrer_puts(f, 403) == refused
    doctor = bakeguard(["--guard-doctor", *args], {**env, "TAG": tag}, project)
    assert f"{host}: no-oci-artifact since " in doctor.stdout and "used up front" in doctor.stdout


def test_the_engine_and_the_docker_driver_s_buildkit(
    stack: Stack, project: Path, tmp_path: Path
) -> None:
    """`docker buildx inspect` says v0.0.0+unknown for the engine's built-in BuildKit; the
    doctor and the report name the engine and the BuildKit its release builds in."""
    env = stack.buildx("newest", TAG=f"localhost:5000/{unique_repo('engine')}/app:v1")
    server = run(["docker", "info", "--format", "{{.ServerVersion}}"], env).stdout.strip()
    vendored = engines.vendored(server)
    assert vendored is not None, f"the test ground's engine {server} is not in the table"
    doctor = bakeguard(["--guard-doctor", "--builder", "default"], env, project)
    assert f"engine: {server}" in doctor.stdout
    assert (
        f"node default: BuildKit v0.0.0+unknown ({vendored} as engine {server}'s release "
        "builds it in)"
    ) in doctor.stdout, doctor.stdout
    report = tmp_path / "report.json"
    res = bakeguard(["--builder", "default", f"--guard-report={report}"], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    environment = reports.load(report)["environment"]
    assert environment["engine"] == server
    (node,) = environment["nodes"]
    assert node["buildkit"] == "v0.0.0+unknown"
    assert (node["buildkit_known"], node["buildkit_source"]) == (vendored, "engine")
