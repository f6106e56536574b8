"""The guard on the real stack: which buildx/driver/store combinations make the double-push
advisory fire, and what each policy does about it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import reports
from tests.helpers import THREE, Stack, bakeguard, platforms_at, unique_repo

ADVISORY = "[docker-driver-double-push]"


def push(stack: Stack, project: Path, label: str, *args: str) -> tuple[int, str, str]:
    tag = f"localhost:5000/{unique_repo('guard')}/app:v1"
    env = stack.buildx(label, TAG=tag, BAKEGUARD_PROBE_TTL="0")
    res = bakeguard(["--push", *args], env, project)
    return res.returncode, res.stderr, tag


@pytest.mark.parametrize("label", ["v0.21.1", "debian"])
def test_affected_buildx_on_docker_driver_fires_and_strict_refuses(
    stack: Stack, project: Path, label: str
) -> None:
    code, err, tag = push(stack, project, label, "--guard=strict")
    assert code == 4, err[-2000:]
    assert ADVISORY in err and "buildx/issues/3070" in err
    assert "containerd image store" in err and "upgrade buildx to >= 0.22.0" in err
    assert "#1 " not in err  # refused before bake started: no build step printed
    assert platforms_at(tag, stack.buildx(label)) == set()  # no new tag


@pytest.mark.parametrize(
    ("label", "extra"),
    [
        ("v0.22.0", []),
        ("newest", []),
        ("v0.21.1", ["--builder", "bg-remote"]),
        ("v0.21.1", ["--set", "app.platform=linux/amd64"]),
    ],
    ids=["v0.22.0", "newest", "v0.21.1-remote", "v0.21.1-single-platform"],
)
def test_fixed_buildx_other_driver_or_single_platform_do_not_fire(
    stack: Stack, project: Path, label: str, extra: list[str]
) -> None:
    code, err, tag = push(stack, project, label, "--guard=strict", *extra)
    assert code == 0, err[-2000:]
    assert ADVISORY not in err
    expected = {"linux/amd64"} if "app.platform=linux/amd64" in extra else THREE
    assert platforms_at(tag, stack.buildx(label)) == expected


def test_build_without_push_triggers_no_push_advisory(stack: Stack, project: Path) -> None:
    env = stack.buildx("v0.21.1", TAG="localhost:5000/x/nopush:v1", BAKEGUARD_PROBE_TTL="0")
    res = bakeguard(["--guard=strict"], env, project)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "bakeguard" not in res.stderr


def test_warn_builds_as_asked_and_reports(stack: Stack, project: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code, err, _ = push(stack, project, "v0.21.1", "--guard=warn", "--guard-report", str(report))
    assert code == 0 and ADVISORY in err and "building as asked (--guard=warn)" in err
    doc = reports.load(report)
    assert doc["schema"] == "bakeguard-report/1" and doc["mode"] == "plain"
    assert doc["advisories"][0]["id"] == "docker-driver-double-push"
    assert doc["environment"]["driver"] == "docker" and doc["environment"]["containerd_store"]
    assert doc["verification"][0]["ok"] and doc["exit_code"] == 0


def test_advisories_listing(stack: Stack, project: Path) -> None:
    res = bakeguard(["--guard-advisories"], stack.env, project)
    assert res.returncode == 0 and "docker-driver-double-push" in res.stdout
    res = bakeguard(["--guard-advisories", "--guard-report", "-"], stack.env, project)
    doc = reports.parse(res.stdout)
    assert len(doc["advisories"]) >= 12


def test_doctor(stack: Stack, project: Path) -> None:
    env = stack.buildx("v0.21.1", TAG="localhost:5000/doctor/app:v1", BAKEGUARD_PROBE_TTL="0")
    res = bakeguard(["--guard-doctor", "--push"], env, project)
    assert res.returncode == 4, res.stdout + res.stderr
    for needle in (
        "buildx: 0.21.1",
        "builder: default (driver docker)",
        "image store: containerd",
        "advisory docker-driver-double-push [error]: applies",
        "registry localhost:5000: reachable (http://localhost:5000/v2/ answered 200)",
    ):
        assert needle in res.stdout
    res = bakeguard(
        ["--guard-doctor", "--push"], stack.buildx("newest", TAG="localhost:5000/d/a:1"), project
    )
    assert res.returncode == 0 and "advisories: none apply" in res.stdout


def test_version(stack: Stack, project: Path) -> None:
    res = bakeguard(["--guard-version"], stack.buildx("debian"), project)
    assert res.returncode == 0
    assert res.stdout.splitlines()[0].startswith("bakeguard ")
    assert "buildx 0.13.1 (github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3)" in res.stdout


def test_doctor_finds_the_tls_registrys_scheme(stack: Stack, project: Path) -> None:
    env = stack.buildx(
        "newest", TAG=f"{stack.tls_registry}/doctor/app:v1", BAKEGUARD_CERTS_DIR=str(stack.certs_d)
    )
    res = bakeguard(["--guard-doctor", "--push"], env, project)
    assert (
        f"registry {stack.tls_registry}: reachable (https://{stack.tls_registry}/v2/ answered 401)"
        in res.stdout
    )
