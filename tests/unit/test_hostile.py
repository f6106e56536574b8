"""The registry client against a hostile registry (tests/hostile.py: hosts on loopback ports
logging every Authorization header): no credential or token crosses hosts, a realm that is
not https gets nothing, no answer is read past its cap, and bakeguard's own memory stays
bounded against a body without end. Some run bakeguard itself (`python -m bakeguard
--guard-verify-only`, a fake docker) and read its exit code, its words and its peak RSS."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakeguard.refs import Reference
from bakeguard.registry import AccessDenied, Credentials, Registry, RegistryError, Unreachable
from bakeguard.registry.manifests import Index
from bakeguard.registry.transport import Request, Response
from tests.hostile import Host, crossed, hosts

ROOT = Path(__file__).resolve().parents[2]
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def image() -> dict[str, tuple[str, bytes]]:
    """A one-platform (linux/amd64) index at tag v1, and its child by digest."""
    config = {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2}
    child = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {**config, "digest": _digest(b"{}")},
            "layers": [],
        }
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": _digest(child),
                    "size": len(child),
                    "platform": {"os": "linux", "architecture": "amd64"},
                }
            ],
        }
    ).encode()
    return {"v1": (OCI_INDEX, index), _digest(child): (OCI_MANIFEST, child)}


def docker_config(where: Path, *owners: Host) -> Path:
    """A DOCKER_CONFIG folder holding each owner's own credentials under its address."""
    auths = {
        h.addr: {"auth": base64.b64encode(":".join(h.user).encode()).decode()}
        for h in owners
        if h.user
    }
    where.mkdir(parents=True, exist_ok=True)
    (where / "config.json").write_text(json.dumps({"auths": auths}))
    return where


@pytest.fixture
def ab() -> Iterator[tuple[Host, Host]]:
    with hosts("A", "B") as (a, b):
        a.manifests.update(image())
        b.manifests.update(image())
        yield a, b


# ---------------------------------------------------------------- credentials per host


@pytest.mark.parametrize("a_open", [True, False], ids=["A-open", "A-token-auth"])
@pytest.mark.parametrize("b_user", [False, True], ids=["B-anonymous", "B-own-credentials"])
def test_a_redirect_to_another_host_carries_nothing_of_the_first_host(
    ab: tuple[Host, Host], tmp_path: Path, a_open: bool, b_user: bool
) -> None:
    """A's manifest GET is sent to B, which challenges: B's token endpoint gets B's own
    credentials or none, never A's; B's token never goes back to A; A's later requests
    carry only A's token. (containerd keeps credentials per host; docker answers another
    host's challenge anonymously.)"""
    a, b = ab
    a.user = ("alice", "a-secret")
    b.user = ("bob", "b-secret") if b_user else None
    a.open = a_open
    a.redirect_to = b
    creds = Credentials(str(docker_config(tmp_path / "docker", a, b)))
    reg = Registry(credentials=creds, budget=10)
    ref = Reference.parse(f"{a.addr}/o/app:v1")
    found: bool | RegistryError
    try:
        m = reg.manifest(ref)
        # back to A, after B's token
        assert isinstance(m.doc, Index)
        found = reg.has_manifest(ref, m.doc.manifests[0].digest)
    except RegistryError as e:
        found = e
    reg.close()
    assert crossed([a, b]) == []
    assert found is True
    to_b_token = [s for s in a.log if s.host == "B" and s.path.startswith("/token")]
    assert to_b_token and all(s.authorization == b.basic() for s in to_b_token)
    assert any(s.host == "B" and s.authorization and "Bearer B-" in s.authorization for s in a.log)
    if not a_open:  # A's own token flow worked alongside
        assert any(
            s.host == "A" and s.authorization and "Bearer A-" in s.authorization for s in a.log
        )


def test_bakeguard_verifies_through_the_redirect_and_no_header_crosses(
    ab: tuple[Host, Host], tmp_path: Path
) -> None:
    """The issue's case: A answers the manifest GET with a redirect to B, which challenges."""
    a, b = ab
    a.user, a.open, a.redirect_to = ("alice", "a-secret"), True, b
    res, _ = verify_only(tmp_path, a, docker_config(tmp_path / "docker", a))
    assert crossed([a, b]) == []
    assert res.returncode == 0, res.stderr[-3000:]
    assert "OK, 1/1" in res.stderr
    assert any(s.host == "B" and s.path.startswith("/token") for s in a.log)


def test_a_redirect_to_a_host_that_wants_its_own_credentials_names_that_host(
    ab: tuple[Host, Host], tmp_path: Path
) -> None:
    """B's token endpoint wants B's credentials, which docker's config lacks: the 401 is
    B's, and the fix is to log in to B (A's credentials are never tried there)."""
    a, b = ab
    a.user, a.open, a.redirect_to = ("alice", "a-secret"), True, b
    b.user = ("bob", "b-secret")
    creds = Credentials(str(docker_config(tmp_path / "docker", a)))
    reg = Registry(credentials=creds, budget=5)
    with pytest.raises(AccessDenied) as e:
        reg.manifest(Reference.parse(f"{a.addr}/o/app:v1"))
    assert e.value.problem == "no-credentials" and e.value.fix == f"docker login {b.addr}"
    assert f"{a.addr} had redirected GET to {b.addr}" in str(e.value)
    assert crossed([a, b]) == []


# ---------------------------------------------------------------- realms


@pytest.mark.parametrize(
    "realm",
    ["ftp://{B}/token", "file:///etc/passwd", "/token", "token", "gopher://{B}/token"],
)
def test_a_realm_that_is_not_http_gets_nothing_and_is_named(
    ab: tuple[Host, Host], tmp_path: Path, realm: str
) -> None:
    a, b = ab
    a.user = ("alice", "a-secret")
    a.realm = realm.replace("{B}", b.addr)
    creds = Credentials(str(docker_config(tmp_path / "docker", a)))
    reg = Registry(credentials=creds, budget=5)
    with pytest.raises(RegistryError) as e:
        reg.manifest(Reference.parse(f"{a.addr}/o/app:v1"))
    assert not isinstance(e.value, Unreachable)
    assert repr(a.realm) in str(e.value) and "not resolve" not in str(e.value)
    assert [s.path for s in a.log] == ["/v2/o/app/manifests/v1"]  # the challenge, then nothing
    assert not [s for s in a.log if s.host == "B"]


def test_bakeguard_exits_3_naming_a_bad_realm(ab: tuple[Host, Host], tmp_path: Path) -> None:
    a, b = ab
    a.user, a.realm = ("alice", "a-secret"), f"ftp://{b.addr}/token"
    res, _ = verify_only(tmp_path, a, docker_config(tmp_path / "docker", a))
    assert res.returncode == 3, res.stderr[-3000:]
    assert f"'ftp://{b.addr}/token'" in res.stderr
    assert "could not reach" not in res.stderr and "not resolve" not in res.stderr
    assert not [s for s in a.log if s.host == "B"]


@pytest.mark.parametrize("realm", ["http://reg.example/token", "ftp://reg.example/token"])
def test_an_https_registry_s_realm_must_be_https(realm: str) -> None:
    """http is allowed only for a registry that is itself plain HTTP, as docker allows."""
    asked: list[str] = []

    def registry(request: Request) -> Response:
        asked.append(request.url)
        challenge = f'Bearer realm="{realm}",service="reg"'
        return Response(401, headers={"WWW-Authenticate": challenge})

    reg = Registry(credentials=Credentials("/nonexistent"), transport=registry, budget=0)
    with pytest.raises(RegistryError, match=re.escape(realm)):
        reg.manifest(Reference.parse("reg.example/o/r:v1"))
    assert asked == ["https://reg.example/v2/o/r/manifests/v1"]


ANSWERED = "the token endpoint 'https://reg.example/token' of reg.example answered 200"


@pytest.mark.parametrize(
    "body", [b"<html>sign in</html>", b"[]", b"null", b'{"token": 5}', b'{"token": "a\\r\\nb"}']
)
def test_a_token_answer_without_a_token_is_said_never_a_traceback(body: bytes) -> None:
    """An HTML login page, a list, null, a number, a token that would split a header."""

    def registry(request: Request) -> Response:
        if request.path == "/token":
            return Response(200, content=body)
        challenge = 'Bearer realm="https://reg.example/token",service="reg"'
        return Response(401, headers={"WWW-Authenticate": challenge})

    reg = Registry(credentials=Credentials("/nonexistent"), transport=registry, budget=0)
    with pytest.raises(RegistryError, match=re.escape(ANSWERED)):
        reg.manifest(Reference.parse("reg.example/o/r:v1"))


# ---------------------------------------------------------------- body caps


@pytest.mark.timeout(30)
@pytest.mark.parametrize("how", ["endless-chunked", "endless", "declared"])
def test_a_manifest_past_the_cap_is_not_read_further(ab: tuple[Host, Host], how: str) -> None:
    a, _ = ab
    a.open, a.body = True, how
    reg = Registry(credentials=Credentials("/nonexistent"), budget=15)
    t0 = time.monotonic()
    with pytest.raises(RegistryError) as e:
        reg.manifest(Reference.parse(f"{a.addr}/o/app:v1"))
    assert f"the registry's answer for {a.addr}/o/app:v1" in str(e.value)
    assert "is larger than 4.19 MiB" in str(e.value)
    assert not isinstance(e.value, Unreachable) and not e.value.transient
    assert time.monotonic() - t0 < 5


@pytest.mark.timeout(30)
@pytest.mark.parametrize("how", ["endless-chunked", "declared"])
def test_a_token_answer_past_its_cap_is_not_read_further(
    ab: tuple[Host, Host], tmp_path: Path, how: str
) -> None:
    a, _ = ab
    a.user, a.token_body = ("alice", "a-secret"), how
    creds = Credentials(str(docker_config(tmp_path / "docker", a)))
    reg = Registry(credentials=creds, budget=15)
    t0 = time.monotonic()
    with pytest.raises(RegistryError, match=r"token endpoint .* more than 1 MiB"):
        reg.manifest(Reference.parse(f"{a.addr}/o/app:v1"))
    assert time.monotonic() - t0 < 5


@pytest.mark.timeout(30)
def test_an_endless_error_body_is_cut_and_its_status_stands(ab: tuple[Host, Host]) -> None:
    a, _ = ab
    a.open, a.error_body = True, True
    reg = Registry(credentials=Credentials("/nonexistent"), budget=15)
    t0 = time.monotonic()
    assert not reg.has_manifest(Reference.parse(f"{a.addr}/o/app:v1"), "sha256:" + "0" * 64)
    with pytest.raises(RegistryError) as e:
        reg.manifest(Reference.parse(f"{a.addr}/o/app:nope"))
    assert e.value.status == 404
    assert time.monotonic() - t0 < 5


@pytest.mark.timeout(120)
def test_bakeguard_s_memory_stays_bounded_against_an_endless_body(
    ab: tuple[Host, Host], tmp_path: Path
) -> None:
    """The issue saw an endless chunked body take 956 MB in 10 s: the run reads at most the
    cap, exits 3 saying what the registry did, and its peak RSS stays under 150 MB."""
    a, _ = ab
    a.open, a.body = True, "endless-chunked"
    res, peak_mb = verify_only(tmp_path, a, docker_config(tmp_path / "docker"))
    assert peak_mb < 150, f"peak RSS {peak_mb:.0f} MB"
    assert res.returncode == 3, res.stderr[-3000:]
    assert f"the registry's answer for {a.addr}/o/app:v1" in res.stderr
    assert "is larger than" in res.stderr and "could not reach" not in res.stderr


# ---------------------------------------------------------------- bakeguard itself

FAKE_DOCKER = r"""#!/bin/sh
case "$1 $2" in
"buildx version") echo "github.com/docker/buildx v0.38.2 0123456789ab"; exit 0 ;;
"buildx inspect")
  printf 'Name: h\nDriver: docker-container\n\nNodes:\nName: h0\nEndpoint: unix:///x\n'
  printf 'Status: running\nBuildKit version: v0.34.2\nPlatforms: linux/amd64\n'
  exit 0 ;;
"info --format")
  printf '{"driver_status":[["driver-type","io.containerd.snapshotter.v1"]],'
  printf '"registry":{},"plugins":[]}\n'
  exit 0 ;;
esac
for a in "$@"; do
  [ "$a" = "--print" ] && cat "$HOSTILE_DEFINITION" && exit 0
done
exit 0
"""
RSS_CEILING_MB = 400  # a run past this is stopped at once (the old code's would eat GBs)


def verify_only(tmp: Path, a: Host, config: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """`bakeguard --guard-verify-only --push` of a one-platform tag at host a, with a fake
    docker: (the run, its peak RSS in MB, from wait4)."""
    exe = tmp / "bin" / "docker"
    exe.parent.mkdir(exist_ok=True)
    exe.write_text(FAKE_DOCKER)
    exe.chmod(0o755)
    target = {
        "context": ".",
        "dockerfile": "Dockerfile",
        "platforms": ["linux/amd64"],
        "tags": [f"{a.addr}/o/app:v1"],
        "output": [{"type": "image", "push": "true"}],
        "attest": [{"type": "provenance", "disabled": True}],  # (a single manifest: none)
    }
    definition = tmp / "definition.json"
    definition.write_text(
        json.dumps({"group": {"default": {"targets": ["app"]}}, "target": {"app": target}})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAKEGUARD_", "BUILDX_"))}
    env.update(
        BAKEGUARD_DOCKER=str(exe),
        BAKEGUARD_LOG_FORMAT="console",
        BAKEGUARD_VERIFY_TIMEOUT="20",
        HOSTILE_DEFINITION=str(definition),
        DOCKER_CONFIG=str(config),
        XDG_CACHE_HOME=str(tmp / "cache"),
        PYTHONPATH=str(ROOT),
    )
    for k in ("GITHUB_ACTIONS", "GITLAB_CI", "GITHUB_STEP_SUMMARY", "CI"):
        env.pop(k, None)
    err_path = tmp / "stderr.txt"
    with err_path.open("w") as err, (tmp / "stdout.txt").open("w") as out:
        p = subprocess.Popen(
            [sys.executable, "-m", "bakeguard", "--guard-verify-only", "--push"],
            env=env,
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        stop = threading.Event()
        threading.Thread(target=_watch, args=(p.pid, stop), daemon=True).start()
        _, status, usage = os.wait4(p.pid, 0)
        stop.set()
    p.returncode = os.waitstatus_to_exitcode(status)
    res = subprocess.CompletedProcess(p.args, p.returncode, "", err_path.read_text())
    return res, usage.ru_maxrss / 1024  # KiB on Linux


def _watch(pid: int, stop: threading.Event) -> None:
    """Kill the run past RSS_CEILING_MB or 60 s: a test of a bounded run must not take the
    machine down when the bound is missing."""
    t0 = time.monotonic()
    while not stop.wait(0.05):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        rss_kb = next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
        if rss_kb > RSS_CEILING_MB * 1024 or time.monotonic() - t0 > 60:
            os.kill(pid, 9)
            return


def test_a_token_endpoint_that_cannot_be_reached_is_named() -> None:
    from bakeguard.registry.transport import TransportError

    def registry(request: Request) -> Response:
        if request.host == "auth.invalid":
            raise TransportError("gaierror: [Errno -2] Name or service not known", "dns")
        challenge = 'Bearer realm="https://auth.invalid/token",service="reg"'
        return Response(401, headers={"WWW-Authenticate": challenge})

    reg = Registry(credentials=Credentials("/nonexistent"), transport=registry, budget=0)
    with pytest.raises(Unreachable, match=re.escape("token endpoint 'https://auth.invalid/token'")):
        reg.manifest(Reference.parse("reg.example/o/r:v1"))
