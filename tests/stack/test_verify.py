"""Verification on the real stack: it passes where the registry is whole and catches, with
exit 3, what bake quietly left partial."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import reports
from tests.front import Front
from tests.helpers import THREE, Stack, bakeguard, login, platforms_at, unique_repo


@pytest.mark.parametrize("label", ["debian", "v0.21.1", "v0.22.0", "newest"])
def test_plain_registry_verifies(stack: Stack, project: Path, label: str, tmp_path: Path) -> None:
    tag = f"localhost:5000/{unique_repo('ver')}/app:v1"
    env = stack.buildx(label, TAG=tag)
    report = tmp_path / "r.json"
    res = bakeguard(["--push", "--guard-split=never", "--guard-report", str(report)], env, project)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"verify {tag} (target app): OK, 3/3 platforms" in res.stderr
    v = reports.load(report)["verification"]
    assert [(o["ref"], sorted(o["found"])) for o in v] == [(tag, sorted(THREE))]
    assert sorted(platforms_at(tag, env)) == sorted(v[0]["found"])  # the table is the registry's


def test_msr_front_partial_tag_exits_3(
    stack: Stack, project: Path, front: Callable[..., Front]
) -> None:
    f = front(msr=True)
    tag = f"localhost:{f.port}/{unique_repo('msr')}/app:v1"
    env = stack.buildx("v0.21.1", TAG=tag)
    res = bakeguard(["--push", "--guard-split=never"], env, project)
    assert res.returncode == 3, res.stderr[-3000:]
    assert "missing: linux/arm64, linux/arm/v7" in res.stderr
    assert "found: linux/amd64" in res.stderr


def test_user_metadata_file_is_left_as_bake_wrote_it(stack: Stack, project: Path) -> None:
    tag = f"localhost:5000/{unique_repo('meta')}/app:v1"
    env = stack.buildx("newest", TAG=tag)
    meta = project / "meta.json"
    res = bakeguard(["--push", "--metadata-file", str(meta)], env, project)
    assert res.returncode == 0, res.stderr
    doc = json.loads(meta.read_text())
    assert set(doc) == {"app"} and doc["app"]["containerimage.digest"].startswith("sha256:")


def test_lag_front_passes_after_waiting(
    stack: Stack, project: Path, front: Callable[..., Front]
) -> None:
    f = front(lag_seconds=2)
    tag = f"localhost:{f.port}/{unique_repo('lag')}/app:v1"
    res = bakeguard(["--push"], stack.buildx("newest", TAG=tag), project)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "OK, 3/3" in res.stderr
    assert f.count("GET", r"/manifests/v1$", "bakeguard") >= 2  # it had to ask again


def test_flaky_front_passes_after_retries(
    stack: Stack, project: Path, front: Callable[..., Front]
) -> None:
    f = front()
    tag = f"localhost:{f.port}/{unique_repo('flaky')}/app:v1"
    env = stack.buildx("newest", TAG=tag)
    assert bakeguard(["--push", "--guard=off"], env, project).returncode == 0
    f.modes.flaky_every = 2
    res = bakeguard(["--guard-verify-only", "--push"], env, project)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "OK, 3/3" in res.stderr
    assert any(s.status in (429, 503) and "bakeguard" in s.agent for s in f.seen)


def test_verify_only_reports_a_missing_tag(stack: Stack, project: Path) -> None:
    tag = f"localhost:5000/{unique_repo('never')}/app:v1"
    env = stack.buildx("newest", TAG=tag, BAKEGUARD_VERIFY_TIMEOUT="1")
    res = bakeguard(["--guard-verify-only", "--push"], env, project)
    assert res.returncode == 3 and "FAILED" in res.stderr and "not found" in res.stderr


def test_tls_htpasswd_registry_after_login(stack: Stack, project: Path, tmp_path: Path) -> None:
    env = stack.private_config("newest", tmp_path)
    env["BAKEGUARD_CERTS_DIR"] = str(stack.certs_d)
    assert login(env, stack.tls_registry, stack.tls_user, stack.tls_password).returncode == 0
    tag = f"{stack.tls_registry}/{unique_repo('tls')}/app:v1"
    res = bakeguard(["--push", "--builder", "bg-remote"], {**env, "TAG": tag}, project)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "OK, 3/3" in res.stderr


def test_tls_wrong_credentials_exit_3_without_secret(
    stack: Stack, project: Path, tmp_path: Path
) -> None:
    """Credentials the registry refuses: exit 3, the 401 named as refused credentials with
    the fix, and no secret in the output."""
    import base64

    env = _tls_pushed(stack, project, tmp_path, "tlsbad")
    wrong = "not-the-password-" + "x" * 8
    host = stack.tls_registry
    auth = base64.b64encode(f"{stack.tls_user}:{wrong}".encode()).decode()
    _set_auths(env, {host: {"auth": auth}})
    report = tmp_path / "r.json"
    res = bakeguard(["--guard-verify-only", "--push", "--guard-report", str(report)], env, project)
    assert res.returncode == 3
    assert f"the credentials for {host} were refused (wrong or expired)" in res.stderr
    assert f"docker login {host} again" in res.stderr
    assert "push again" not in res.stderr
    assert wrong not in res.stderr + res.stdout and stack.tls_password not in res.stderr
    assert reports.load(report)["verification"][0]["auth"] == "refused"


def test_fast_path_still_verifies(
    stack: Stack, project: Path, front: Callable[..., Front], tmp_path: Path
) -> None:
    """After one full run has found no advisory for this builder, the next run starts bake at
    once (the fast path) and still catches a partial tag."""
    f = front()
    env = stack.buildx("newest", XDG_CACHE_HOME=str(tmp_path / "cache"))
    report = tmp_path / "r.json"
    for n, truncate in enumerate((False, True)):
        f.modes.truncate = truncate
        tag = f"localhost:{f.port}/{unique_repo('fast')}/app:v{n}"
        res = bakeguard(["--push", "--guard-report", str(report)], {**env, "TAG": tag}, project)
        doc = reports.load(report)
        assert doc.get("fast_path", False) is bool(n), res.stderr[-2000:]
    assert res.returncode == 3
    assert "missing: linux/arm64, linux/arm/v7" in res.stderr
    assert doc["verification"][0]["ok"] is False


PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")


def test_verification_goes_through_an_https_proxy(
    stack: Stack, project: Path, front: Callable[..., Front], tmp_path: Path
) -> None:
    """A registry reached only through a corporate proxy (CONNECT), under a name the machine
    cannot resolve: bakeguard verifies it through HTTPS_PROXY, with TLS to the registry's own
    name; without the proxy it cannot, and says which registry."""
    import ssl

    import trustme

    from tests.proxy import ConnectProxy

    tag = f"localhost:5000/{unique_repo('proxy')}/app:v1"
    env = {k: v for k, v in stack.buildx("newest").items() if k not in PROXY_VARS}
    assert bakeguard(["--push", "--guard=off"], {**env, "TAG": tag}, project).returncode == 0
    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("registry.bakeguard.test").configure_cert(server_ctx)
    f = front(tls=server_ctx)  # HTTPS in front of the same registry
    host = f"registry.bakeguard.test:{f.port}"
    certs = tmp_path / "certs.d"
    (certs / host).mkdir(parents=True)
    ca.cert_pem.write_to_path(str(certs / host / "ca.crt"))
    proxy = ConnectProxy({host: ("127.0.0.1", f.port)})
    try:
        via = {**env, "TAG": f"{host}{tag.removeprefix('localhost:5000')}"}
        via["BAKEGUARD_CERTS_DIR"] = str(certs)
        res = bakeguard(
            ["--guard-verify-only", "--push"], {**via, "HTTPS_PROXY": proxy.url}, project
        )
        assert res.returncode == 0, res.stderr[-2000:]
        assert f"verify {via['TAG']} (target app): OK, 3/3 platforms" in res.stderr
        assert proxy.tunnels and set(proxy.tunnels) == {host}
        assert any("bakeguard" in s.agent for s in f.seen)  # TLS through the tunnel, to the front

        res = bakeguard(
            ["--guard-verify-only", "--push"], {**via, "BAKEGUARD_VERIFY_TIMEOUT": "2"}, project
        )
        assert res.returncode == 3, res.stderr[-2000:]
        assert "FAILED" in res.stderr
        assert f"could not reach {host} from this machine" in res.stderr  # and what to check
        assert "HTTPS_PROXY" in res.stderr
    finally:
        proxy.stop()


# ---------------------------------------------------------------- registries that do not answer


def _pushed_repo(stack: Stack, project: Path, prefix: str) -> tuple[str, dict[str, str]]:
    """A repository bake pushed `app:v1` to on the plain registry, and the environment."""
    repo = unique_repo(prefix)
    env = stack.buildx("newest")
    pushed = bakeguard(
        ["--push", "--guard=off"], {**env, "TAG": f"{stack.registry}/{repo}/app:v1"}, project
    )
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    return repo, env


def test_a_registry_that_never_answers_fails_within_the_timeout(
    stack: Stack, project: Path, front: Callable[..., Front]
) -> None:
    """A registry that accepts the connection and never answers: verification gives up when
    --guard-verify-timeout is spent (connect, handshake and reads included) and says so."""
    repo, env = _pushed_repo(stack, project, "silent")
    f = front(silent=True)
    tag = f"{f.addr}/{repo}/app:v1"
    t0 = time.monotonic()
    res = bakeguard(
        ["--guard-verify-only", "--push", "--guard-verify-timeout=5"],
        {**env, "TAG": tag},
        project,
        timeout=120,
    )
    took = time.monotonic() - t0
    assert res.returncode == 3, res.stderr[-2000:]
    assert f.reached.is_set()
    assert f"{f.addr} accepted the connection but did not answer within 5 s" in res.stderr
    assert took < 15, f"took {took:.1f} s"


@pytest.mark.parametrize("how", ["refused", "reset"])
def test_a_registry_that_refuses_or_drops_connections_fails_fast(
    stack: Stack, project: Path, front: Callable[..., Front], how: str
) -> None:
    """Nothing listening (refused), or a listener that closes every connection unanswered:
    no waiting out the default 60 s budget; the outcome names the registry and what it did."""
    repo, env = _pushed_repo(stack, project, how)
    closed = socket.socket()
    try:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        addr = f"127.0.0.1:{closed.getsockname()[1]}"
        if how == "reset":
            addr = front(reset=True).addr
        t0 = time.monotonic()
        res = bakeguard(
            ["--guard-verify-only", "--push"], {**env, "TAG": f"{addr}/{repo}/app:v1"}, project
        )
        took = time.monotonic() - t0
    finally:
        closed.close()
    assert res.returncode == 3, res.stderr[-2000:]
    said = {"refused": "refused the connection", "reset": "closed the connection unanswered"}
    assert f"{addr} {said[how]}" in res.stderr
    assert f"could not reach {addr} from this machine" in res.stderr
    assert took < 15, f"took {took:.1f} s"


# ---------------------------------------------------------------- credentials


def _tls_pushed(stack: Stack, project: Path, tmp_path: Path, prefix: str) -> dict[str, str]:
    """A private DOCKER_CONFIG logged in to the TLS + htpasswd registry, and a tag pushed
    there with those credentials (TAG in the returned environment)."""
    env = stack.private_config("newest", tmp_path)
    env["BAKEGUARD_CERTS_DIR"] = str(stack.certs_d)
    assert login(env, stack.tls_registry, stack.tls_user, stack.tls_password).returncode == 0
    env["TAG"] = f"{stack.tls_registry}/{unique_repo(prefix)}/app:v1"
    pushed = bakeguard(["--push", "--builder", "bg-remote", "--guard=off"], env, project)
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    return env


def _set_auths(env: dict[str, str], auths: dict[str, dict[str, str]]) -> Path:
    cfg = Path(env["DOCKER_CONFIG"]) / "config.json"
    doc = json.loads(cfg.read_text()) if cfg.exists() else {}
    doc["auths"] = auths
    cfg.write_text(json.dumps(doc))
    return cfg


def test_tls_registry_without_credentials_says_docker_login(
    stack: Stack, project: Path, tmp_path: Path
) -> None:
    env = _tls_pushed(stack, project, tmp_path, "tlsnone")
    cfg = _set_auths(env, {})
    report = tmp_path / "r.json"
    res = bakeguard(["--guard-verify-only", "--push", "--guard-report", str(report)], env, project)
    assert res.returncode == 3, res.stderr[-2000:]
    host = stack.tls_registry
    assert f"no credentials for {host} in {cfg} (or its credential helper)" in res.stderr
    assert f"fix: docker login {host}" in res.stderr
    assert "push again" not in res.stderr
    [entry] = reports.load(report)["verification"]
    assert entry["auth"] == "no-credentials" and entry["fix"] == f"docker login {host}"


@pytest.mark.parametrize("entry", ["%%% not base64 %%%", "bm8tY29sb24taGVyZQ=="])
def test_an_unreadable_auth_entry_is_no_credentials_with_a_warning(
    stack: Stack, project: Path, tmp_path: Path, entry: str
) -> None:
    """An `auth` that is not base64, or decodes to no user:password: one warning naming the
    host and config.json, then verification without credentials (this registry needs them:
    the 401's fix), exit 3, no traceback."""
    env = _tls_pushed(stack, project, tmp_path, "tlsbroken")
    host = stack.tls_registry
    cfg = _set_auths(env, {host: {"auth": entry}})
    res = bakeguard(["--guard-verify-only", "--push"], env, project)
    assert res.returncode == 3, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    warnings = [line for line in res.stderr.splitlines() if "are unreadable" in line]
    assert len(warnings) == 1, res.stderr
    assert host in warnings[0] and str(cfg) in warnings[0]
    assert f"docker login {host}" in warnings[0]
    assert f"no credentials for {host}" in res.stderr


def test_an_unreadable_auth_entry_for_an_anonymous_registry_still_verifies(
    stack: Stack, project: Path, tmp_path: Path
) -> None:
    """The plain registry needs no credentials: bake pushes, bakeguard warns once and
    verifies anonymously (exit 0), where it used to end in a traceback."""
    env = stack.private_config("newest", tmp_path)
    _set_auths(env, {stack.registry: {"auth": "%%% not base64 %%%"}})
    tag = f"{stack.registry}/{unique_repo('anon')}/app:v1"
    res = bakeguard(["--push"], {**env, "TAG": tag}, project)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert f"verify {tag} (target app): OK, 3/3 platforms" in res.stderr
    assert sum("are unreadable" in line for line in res.stderr.splitlines()) == 1, res.stderr
