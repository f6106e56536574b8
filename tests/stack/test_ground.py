"""Control tests: the ground reproduces the field before bakeguard is asked to fix anything."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.front import Front
from tests.helpers import THREE, Stack, bake, platforms_at, run, unique_repo

AFFECTED = {"debian", "v0.21.1"}
BY_DIGEST = "push-by-digest=true,name-canonical=true,push=true"


@pytest.mark.parametrize("label", ["debian", "v0.21.1", "v0.22.0", "newest"])
def test_msr_front_keeps_one_platform_on_affected_buildx(
    stack: Stack, front: Callable[..., Front], project: Path, label: str
) -> None:
    f = front(msr=True)
    tag = f"localhost:{f.port}/{unique_repo('msr')}/app:v1"
    env = stack.buildx(label, TAG=tag)
    res = bake(["--push", "--progress=plain"], env, project)
    found = platforms_at(tag, env)
    if label in AFFECTED:
        assert "with docker" in res.stderr  # the engine's second push
        assert res.returncode == 0, res.stderr[-2000:]  # quietly, as in buildx #3070
        assert found == {"linux/amd64"}
    else:
        assert res.returncode == 0, res.stderr[-2000:]
        assert "with docker" not in res.stderr
        assert found == THREE


@pytest.mark.parametrize("label", ["debian", "v0.21.1", "v0.22.0", "newest"])
def test_plain_registry_gets_all_platforms(stack: Stack, project: Path, label: str) -> None:
    tag = f"localhost:5000/{unique_repo('plain')}/app:v1"
    env = stack.buildx(label, TAG=tag)
    res = bake(["--push"], env, project)
    assert res.returncode == 0, res.stderr[-2000:]
    assert platforms_at(tag, env) == THREE


@pytest.mark.parametrize("builder", ["bg-remote", "bg-multi"])
def test_remote_builder_push_by_digest_then_imagetools_create(
    stack: Stack, project: Path, tmp_path: Path, builder: str
) -> None:
    repo = f"localhost:5000/{unique_repo('bydigest')}/app"
    env = stack.buildx("newest")
    digests = []
    for plat in sorted(THREE):
        meta = tmp_path / f"meta-{plat.replace('/', '-')}.json"
        res = bake(
            [
                "--builder",
                builder,
                "--metadata-file",
                str(meta),
                "--set",
                f"app.platform={plat}",
                "--set",
                "app.tags=",
                "--set",
                f"app.output=type=image,name={repo},{BY_DIGEST}",
            ],
            env,
            project,
        )
        assert res.returncode == 0, res.stderr[-2000:]
        digests.append(json.loads(meta.read_text())["app"]["containerimage.digest"])
    # by digest: no tag was written
    assert platforms_at(f"{repo}:v1", env) == set()
    res = run(
        [
            "docker",
            "buildx",
            "imagetools",
            "create",
            "-t",
            f"{repo}:v1",
            *(f"{repo}@{d}" for d in digests),
        ],
        env,
    )
    assert res.returncode == 0, res.stderr
    assert platforms_at(f"{repo}:v1", env) == THREE


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-s", "-i", *args], capture_output=True, text=True, timeout=30)


def status_of(res: subprocess.CompletedProcess[str]) -> int:
    return int(res.stdout.split()[1])


@pytest.fixture
def pushed(stack: Stack, project: Path) -> str:
    """A 3-platform image at localhost:5000/REPO/app:v1 (plain registry); returns REPO/app."""
    repo = f"{unique_repo('seed')}/app"
    env = stack.buildx("newest", TAG=f"localhost:5000/{repo}:v1")
    res = bake(["--push"], env, project)
    assert res.returncode == 0, res.stderr
    return repo


def test_flaky_front_answers_every_nth_request_with_503_or_429(
    front: Callable[..., Front], pushed: str
) -> None:
    f = front(flaky_every=2, flaky_retry_after=1)
    accept = "Accept: application/vnd.oci.image.index.v1+json"
    codes = [
        status_of(curl("-H", accept, f"http://{f.addr}/v2/{pushed}/manifests/v1")) for _ in range(4)
    ]
    assert codes == [200, 503, 200, 429]
    res = curl(
        "-H",
        accept,
        f"http://{f.addr}/v2/{pushed}/manifests/v1",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    )
    assert res.stdout.endswith("200")
    f.counter = 1
    assert "Retry-After: 1" in curl(f"http://{f.addr}/v2/{pushed}/manifests/v1").stdout


def test_lag_front_hides_a_new_tag_for_a_while(
    stack: Stack, front: Callable[..., Front], project: Path
) -> None:
    f = front(lag_seconds=3)
    repo = f"{unique_repo('lag')}/app"
    env = stack.buildx("newest", TAG=f"localhost:{f.port}/{repo}:v1")
    assert bake(["--push"], env, project).returncode == 0
    put_at = f.pushed_at[f"{repo}:v1"]
    url = f"http://{f.addr}/v2/{repo}/manifests/v1"
    accept = "Accept: application/vnd.oci.image.index.v1+json"
    assert status_of(curl("-H", accept, url)) == 404
    while time.monotonic() - put_at < 3:
        time.sleep(0.2)
    assert status_of(curl("-H", accept, url)) == 200


@pytest.mark.parametrize(
    ("mode", "rejects", "needle", "accepted"),
    [
        (
            "docker_v2_only",
            [],
            "manifest invalid: media type",
            ["--provenance=false", "--set", "app.output=type=image,push=true,oci-mediatypes=false"],
        ),
        ("no_attestations", ["--provenance=mode=min"], "attestation", ["--provenance=false"]),
    ],
)
def test_picky_fronts_reject_what_buildkit_pushes_by_default(
    stack: Stack,
    front: Callable[..., Front],
    project: Path,
    mode: str,
    rejects: list[str],
    needle: str,
    accepted: list[str],
) -> None:
    f = front(**{mode: True})
    tag = f"localhost:{f.port}/{unique_repo(mode)}/app:v1"
    env = stack.buildx("newest", TAG=tag)
    res = bake(["--push", "--builder", "bg-remote", *rejects], env, project)
    assert res.returncode != 0
    assert needle.lower() in res.stderr.lower()
    res = bake(["--push", "--builder", "bg-remote", *accepted], env, project)
    assert res.returncode == 0, res.stderr[-2000:]
    assert platforms_at(tag, env) == THREE


def test_bearer_front_wants_a_token(
    stack: Stack, front: Callable[..., Front], project: Path, tmp_path: Path
) -> None:
    f = front(bearer=("ci", "s3cret"))
    res = curl(f"http://{f.addr}/v2/")
    assert status_of(res) == 401
    assert f'Bearer realm="http://{f.addr}/token"' in res.stdout
    assert status_of(curl("-u", "ci:wrong", f"http://{f.addr}/token")) == 401
    tok = curl("-u", "ci:s3cret", f"http://{f.addr}/token")
    token = json.loads(tok.stdout.split("\n\n", 1)[1])["token"]
    assert status_of(curl("-H", f"Authorization: Bearer {token}", f"http://{f.addr}/v2/")) == 200
    # a real client: docker login, then a push by the engine's builder
    env = stack.private_config("newest", tmp_path)
    argv = ["docker", "login", "-u", "ci", "--password-stdin", f"localhost:{f.port}"]
    assert run(argv, env).returncode != 0  # no password on stdin: refused
    login = subprocess.run(argv, input="s3cret", env=env, capture_output=True, text=True)
    assert login.returncode == 0, login.stderr
    tag = f"localhost:{f.port}/{unique_repo('bearer')}/app:v1"
    res = bake(["--push"], {**env, "TAG": tag}, project)
    assert res.returncode == 0, res.stderr[-2000:]
    assert platforms_at(tag, env) == THREE


def test_tls_registry_needs_credentials(stack: Stack) -> None:
    url = f"https://{stack.tls_registry}/v2/"
    assert status_of(curl("--cacert", str(stack.ca), url)) == 401
    ok = curl("--cacert", str(stack.ca), "-u", f"{stack.tls_user}:{stack.tls_password}", url)
    assert status_of(ok) == 200
