from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bakeguard.refs import Reference
from bakeguard.registry import Credentials, Registry, RegistryError, Unreachable
from bakeguard.registry.errors import ACCEPT
from bakeguard.registry.hosts import is_insecure
from bakeguard.registry.manifests import digest_of
from bakeguard.registry.transport import Request, Response

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest_of(b"a"),
            "size": 480,
            "platform": {"os": "linux", "architecture": "amd64"},
        },
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest_of(b"att"),
            "size": 840,
            "platform": {"os": "unknown", "architecture": "unknown"},
            "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
        },
    ],
}
INDEX_BODY = json.dumps(INDEX).encode()


@pytest.mark.parametrize(
    ("ref", "registry", "repo", "tag", "digest"),
    [
        ("localhost:5000/a/b:v1", "localhost:5000", "a/b", "v1", None),
        ("ubuntu", "docker.io", "library/ubuntu", "latest", None),
        ("me/app:1.0", "docker.io", "me/app", "1.0", None),
        ("ghcr.io/o/r@sha256:ab", "ghcr.io", "o/r", None, "sha256:ab"),
        ("reg.example:443/x/y:t@sha256:cd", "reg.example:443", "x/y", "t", "sha256:cd"),
        ("localhost/x", "localhost", "x", "latest", None),
    ],
)
def test_reference_parse(
    ref: str, registry: str, repo: str, tag: str | None, digest: str | None
) -> None:
    r = Reference.parse(ref)
    assert (r.registry, r.repository, r.tag, r.digest) == (registry, repo, tag, digest)


def test_insecure_rules() -> None:
    assert is_insecure("localhost:5000", ())
    assert is_insecure("127.0.0.1:5443", ())
    assert is_insecure("[::1]:5000", ()) and is_insecure("LOCALHOST", ())
    assert is_insecure("10.1.2.3:5000", ("10.0.0.0/8",))
    assert is_insecure("reg:5000", ("reg:5000",))
    assert not is_insecure("ghcr.io", ("127.0.0.0/8",))


class FakeTime:
    """A clock that only sleeping moves: retries' pauses without waiting for them."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def registry_with(handler, **kw) -> tuple[Registry, list[float]]:  # type: ignore[no-untyped-def]
    t = FakeTime()
    reg = Registry(
        credentials=Credentials("/nonexistent"),
        transport=handler,
        sleep=t.sleep,
        clock=t.clock,
        **kw,
    )
    return reg, t.slept


def ok_index(request: Request) -> Response:
    return Response(
        200,
        content=INDEX_BODY,
        headers={
            "Content-Type": str(INDEX["mediaType"]),
            "Docker-Content-Digest": digest_of(INDEX_BODY),
        },
    )


def test_every_manifest_request_accepts_oci_and_docker_types() -> None:
    seen: list[str] = []

    def handler(request: Request) -> Response:
        seen.append(request.headers["Accept"])
        return ok_index(request)

    reg, _ = registry_with(handler)
    m = reg.manifest(Reference.parse("ghcr.io/o/r:v1"))
    assert m.is_index and m.digest == digest_of(INDEX_BODY)
    assert seen and all(a == ACCEPT for a in seen)
    for t in ("oci.image.index", "oci.image.manifest", "manifest.list.v2", "manifest.v2"):
        assert t in ACCEPT


def test_429_honours_retry_after_and_503_backs_off() -> None:
    answers = iter(
        [
            Response(429, headers={"Retry-After": "7"}),
            Response(503),
            Response(503),
        ]
    )

    def handler(request: Request) -> Response:
        return next(answers, None) or ok_index(request)

    reg, slept = registry_with(handler)
    reg.manifest(Reference.parse("ghcr.io/o/r:v1"))
    assert slept[0] == 7
    assert len(slept) == 3 and all(0 < s <= 5 for s in slept[1:])


def test_retries_stop_at_the_total_budget() -> None:
    """Pauses end a second before the deadline: the last try has time to run, and the error
    is the registry's own answer."""
    reg, slept = registry_with(lambda r: Response(503), budget=10)
    with pytest.raises(RegistryError) as e:
        reg.manifest(Reference.parse("ghcr.io/o/r:v1"))
    assert e.value.status == 503
    assert sum(slept) == pytest.approx(9)


@pytest.mark.parametrize("status", [401, 403, 400, 404])
def test_no_retry_on_client_errors(status: int) -> None:
    calls = []

    def handler(request: Request) -> Response:
        calls.append(1)
        return Response(status, json_body={"errors": [{"code": "DENIED", "message": "no"}]})

    reg, slept = registry_with(handler)
    with pytest.raises(RegistryError) as e:
        reg.manifest(Reference.parse("ghcr.io/o/r:v1"))
    assert e.value.status == status and slept == []


def test_404_on_a_tag_is_retried_when_lag_is_allowed() -> None:
    answers = iter([Response(404), Response(404)])

    def handler(request: Request) -> Response:
        return next(answers, None) or ok_index(request)

    reg, slept = registry_with(handler)
    reg.manifest(Reference.parse("ghcr.io/o/r:v1"), lag_ok=True)
    assert len(slept) == 2


def test_bearer_flow_with_stored_credentials(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"reg.example": {"auth": base64.b64encode(b"ci:s3cret").decode()}}})
    )
    token_calls = []

    def handler(request: Request) -> Response:
        if request.path == "/token":
            token_calls.append(request.params)
            assert (
                request.headers["Authorization"]
                == "Basic " + base64.b64encode(b"ci:s3cret").decode()
            )
            return Response(200, json_body={"token": "T0K"})
        if request.headers.get("Authorization") != "Bearer T0K":
            return Response(
                401,
                headers={
                    "WWW-Authenticate": 'Bearer realm="https://reg.example/token",service="reg",scope="repository:o/r:pull"'
                },
            )
        return ok_index(request)

    reg = Registry(credentials=Credentials(str(tmp_path)), transport=handler)
    reg.manifest(Reference.parse("reg.example/o/r:v1"))
    reg.manifest(Reference.parse("reg.example/o/r:v2"))
    assert token_calls == [{"service": "reg", "scope": "repository:o/r:pull"}]


def test_wrong_credentials_error_holds_no_secret(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"reg.example": {"auth": base64.b64encode(b"ci:hunter2").decode()}}})
    )

    def handler(request: Request) -> Response:
        if request.path == "/token":
            return Response(401)
        return Response(
            401, headers={"WWW-Authenticate": 'Bearer realm="https://reg.example/token"'}
        )

    reg = Registry(credentials=Credentials(str(tmp_path)), transport=handler)
    with pytest.raises(RegistryError) as e:
        reg.manifest(Reference.parse("reg.example/o/r:v1"))
    assert "hunter2" not in str(e.value) and "hunter2" not in repr(
        Credentials(str(tmp_path)).lookup("reg.example")
    )


def test_cred_helpers_and_store(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"credHelpers": {"gcr.io": "gcloud"}, "credsStore": "pass"})
    )
    asked = []

    def helper(name: str, server: str) -> dict[str, str]:
        asked.append((name, server))
        return {"Username": "u", "Secret": f"{name}-secret"}

    creds = Credentials(str(tmp_path), helper=helper)
    assert creds.lookup("gcr.io").password == "gcloud-secret"  # type: ignore[union-attr]
    assert creds.lookup("docker.io").password == "pass-secret"  # type: ignore[union-attr]
    assert asked == [("gcloud", "gcr.io"), ("pass", "https://index.docker.io/v1/")]


def test_a_loopback_tls_port_is_asked_again_over_https() -> None:
    """Plain HTTP first on loopback; Go's TLS server answers that with a 400 naming HTTPS."""
    schemes: list[str] = []

    def handler(request: Request) -> Response:
        schemes.append(request.url.split(":", 1)[0])
        if request.url.startswith("http:"):
            return Response(400, content=b"Client sent an HTTP request to an HTTPS server.\n")
        return ok_index(request)

    reg, _ = registry_with(handler)
    reg.manifest(Reference.parse("localhost:5443/o/r:v1"))
    reg.manifest(Reference.parse("localhost:5443/o/r:v2"))
    assert schemes == ["http", "https", "https"]


def test_no_answer_at_all_is_unreachable_and_verification_says_what_to_check() -> None:
    """A push can reach a registry from the engine that bakeguard, on this machine, cannot
    (a proxy, a private CA): the outcome says so and the hint names that registry."""
    from bakeguard.registry.transport import TransportError
    from bakeguard.registry.verdict import reach_hint
    from bakeguard.registry.verify import Expectation, Verifier

    def refused(request: Request) -> Response:
        raise TransportError("ConnectionRefusedError: [Errno 111] Connection refused")

    reg, _ = registry_with(refused, budget=0)
    with pytest.raises(Unreachable, match=r"ghcr\.io"):
        reg.manifest(Reference.parse("ghcr.io/o/r:v1"))
    [out] = Verifier(reg).run([Expectation("app", "ghcr.io/o/r:v1", ("linux/amd64",))])
    assert not out.ok and out.unreachable and out.to_json()["unreachable"] is True
    hint = reach_hint([out])
    assert hint is not None and "could not reach ghcr.io from this machine" in hint
    assert "HTTPS_PROXY" in hint and "/etc/docker/certs.d/ghcr.io/ca.crt" in hint


def test_a_registry_that_answers_is_not_unreachable() -> None:
    from bakeguard.registry.verdict import reach_hint
    from bakeguard.registry.verify import Expectation, Verifier

    reg, _ = registry_with(lambda r: Response(404), budget=0)
    [out] = Verifier(reg).run([Expectation("app", "ghcr.io/o/r:v1", ("linux/amd64",))])
    assert not out.ok and not out.unreachable and reach_hint([out]) is None


def _index_bytes() -> tuple[bytes, str]:
    body = json.dumps(INDEX).encode()
    return body, "sha256:" + hashlib.sha256(body).hexdigest()


def test_put_manifest_writes_the_tag_with_its_media_type() -> None:
    body, digest = _index_bytes()
    seen: list[tuple[str, str, str, bytes | None]] = []

    def handler(request: Request) -> Response:
        seen.append(
            (request.method, request.path, request.headers.get("Content-Type", ""), request.body)
        )
        if request.method == "HEAD":
            return Response(404)
        return Response(201, headers={"Docker-Content-Digest": digest})

    reg, _ = registry_with(handler)
    ref = Reference.parse("reg.example/o/r:v1")
    assert reg.put_manifest(ref, body, str(INDEX["mediaType"])) == digest
    assert seen == [
        ("HEAD", "/v2/o/r/manifests/v1", "", None),
        ("PUT", "/v2/o/r/manifests/v1", str(INDEX["mediaType"]), body),
    ]


def test_put_manifest_skips_a_tag_that_already_names_these_bytes() -> None:
    # as containerd's pusher (imagetools create, bake) does: HEAD, no PUT
    body, digest = _index_bytes()
    methods: list[str] = []

    def handler(request: Request) -> Response:
        methods.append(request.method)
        return Response(200, headers={"Docker-Content-Digest": digest})

    reg, _ = registry_with(handler)
    reg.put_manifest(Reference.parse("reg.example/o/r:v1"), body, str(INDEX["mediaType"]))
    assert methods == ["HEAD"]


def test_put_manifest_replaces_a_tag_that_names_other_bytes_and_retries_a_503() -> None:
    body, digest = _index_bytes()
    methods: list[str] = []

    def handler(request: Request) -> Response:
        methods.append(request.method)
        if request.method == "HEAD":
            return Response(200, headers={"Docker-Content-Digest": "sha256:old"})
        if methods.count("PUT") == 1:
            return Response(503)
        return Response(201, headers={"Docker-Content-Digest": digest})

    reg, slept = registry_with(handler)
    reg.put_manifest(Reference.parse("reg.example/o/r:v1"), body, str(INDEX["mediaType"]))
    assert methods == ["HEAD", "PUT", "PUT"] and len(slept) == 1


def test_put_manifest_asks_the_token_endpoint_for_the_push_scope(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"reg.example": {"auth": base64.b64encode(b"ci:s3cret").decode()}}})
    )
    body, digest = _index_bytes()
    scopes: list[str] = []

    def handler(request: Request) -> Response:
        if request.path == "/token":
            scopes.append(request.params["scope"])
            return Response(200, json_body={"token": request.params["scope"]})
        scope = "repository:o/r:pull" if request.method == "HEAD" else "repository:o/r:pull,push"
        if request.headers.get("Authorization") != f"Bearer {scope}":
            challenge = f'Bearer realm="https://reg.example/token",service="reg",scope="{scope}"'
            return Response(401, headers={"WWW-Authenticate": challenge})
        if request.method == "HEAD":
            return Response(404)
        assert request.body == body
        return Response(201, headers={"Docker-Content-Digest": digest})

    reg = Registry(credentials=Credentials(str(tmp_path)), transport=handler)
    reg.put_manifest(Reference.parse("reg.example/o/r:v1"), body, str(INDEX["mediaType"]))
    assert scopes == ["repository:o/r:pull", "repository:o/r:pull,push"]


def test_put_manifest_refused_or_rewritten_is_an_error() -> None:
    body, _ = _index_bytes()

    def denied(request: Request) -> Response:
        if request.method == "HEAD":
            return Response(404)
        return Response(403, json_body={"errors": [{"code": "DENIED", "message": "no"}]})

    reg, _ = registry_with(denied)
    with pytest.raises(RegistryError) as e:
        reg.put_manifest(Reference.parse("reg.example/o/r:v1"), body, str(INDEX["mediaType"]))
    assert e.value.status == 403 and not e.value.transient

    def rewritten(request: Request) -> Response:
        if request.method == "HEAD":
            return Response(404)
        return Response(201, headers={"Docker-Content-Digest": "sha256:other"})

    reg, _ = registry_with(rewritten)
    with pytest.raises(RegistryError, match=r"stored reg\.example/o/r:v1 as sha256:other"):
        reg.put_manifest(Reference.parse("reg.example/o/r:v1"), body, str(INDEX["mediaType"]))


def test_put_manifest_to_a_registry_it_cannot_reach_gives_up_at_once() -> None:
    """No waiting out the budget: `imagetools create` writes instead (split.assemble.create)."""
    from bakeguard.registry.transport import TransportError

    calls: list[str] = []

    def refused(request: Request) -> Response:
        calls.append(request.method)
        raise TransportError("ConnectionRefusedError: [Errno 111] Connection refused")

    reg, slept = registry_with(refused)
    body, _ = _index_bytes()
    with pytest.raises(Unreachable):
        reg.put_manifest(Reference.parse("reg.example/o/r:v1"), body, str(INDEX["mediaType"]))
    assert calls == ["HEAD"] and slept == []
    with pytest.raises(Unreachable):  # reads still wait for it, within the budget
        reg.manifest(Reference.parse("reg.example/o/r:v1"))
    assert slept


# ------------------------------------------------------- the budget, unreachable registries


def test_every_request_shares_one_deadline_from_the_start() -> None:
    """Requests and their retries all end by start + budget: a request that waits leaves
    the later ones less."""
    deadlines: list[float | None] = []
    t = FakeTime()

    def slow_then_ok(request: Request) -> Response:
        deadlines.append(request.deadline)
        t.now += 2  # the registry takes its time
        return Response(503) if len(deadlines) < 3 else ok_index(request)

    reg = Registry(
        credentials=Credentials("/nonexistent"),
        transport=slow_then_ok,
        sleep=t.sleep,
        clock=t.clock,
        budget=10,
    )
    reg.start()
    reg.manifest(Reference.parse("ghcr.io/o/r:v1"))
    reg.has_manifest(Reference.parse("ghcr.io/o/r:v1"), "sha256:a")
    assert deadlines == [1010.0] * 4


def test_a_request_after_the_budget_is_spent_is_not_sent() -> None:
    t = FakeTime()
    sent: list[str] = []

    def slow(request: Request) -> Response:
        sent.append(request.method)
        t.now += 11  # longer than the whole budget
        return ok_index(request)

    reg = Registry(
        credentials=Credentials("/nonexistent"),
        transport=slow,
        sleep=t.sleep,
        clock=t.clock,
        budget=10,
    )
    reg.start()
    reg.manifest(Reference.parse("ghcr.io/o/r:v1"))
    with pytest.raises(RegistryError, match=r"no time left for HEAD .* budget of 10 s"):
        reg.has_manifest(Reference.parse("ghcr.io/o/r:v1"), "sha256:a")
    assert sent == ["GET"]


@pytest.mark.parametrize(
    "kind",
    ["refused", "dns", "reset"],
)
def test_no_answer_is_retried_twice_quickly_not_for_the_whole_budget(kind: str) -> None:
    from bakeguard.registry.transport import TransportError

    calls: list[str] = []

    def unreachable(request: Request) -> Response:
        calls.append(request.method)
        raise TransportError("ConnectionRefusedError: [Errno 111] Connection refused", kind)

    reg, slept = registry_with(unreachable)  # the default budget: 60 s
    with pytest.raises(Unreachable) as e:
        reg.manifest(Reference.parse("reg.example/o/r:v1"), lag_ok=True)
    assert len(calls) == 3 and sum(slept) < 1
    said = {
        "refused": "reg.example refused the connection",
        "dns": "reg.example: the name does not resolve",
        "reset": "reg.example closed the connection unanswered",
    }
    assert str(e.value).startswith(said[kind])


@pytest.mark.timeout(30)
def test_a_registry_that_never_answers_fails_when_the_budget_is_spent() -> None:
    """Accepts the connection, never answers: one wait of the budget in all, not a socket
    timeout per try and retries after it."""
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    host = f"127.0.0.1:{silent.getsockname()[1]}"
    reg = Registry(credentials=Credentials("/nonexistent"), budget=1)
    t0 = time.monotonic()
    try:
        with pytest.raises(Unreachable) as e:
            reg.manifest(Reference.parse(f"{host}/o/r:v1"), lag_ok=True)
    finally:
        silent.close()
        reg.close()
    assert time.monotonic() - t0 < 2
    assert str(e.value) == (
        f"{host} accepted the connection but did not answer within 1 s (--guard-verify-timeout)"
    )
    assert e.value.timed_out


@pytest.mark.timeout(30)
def test_connect_does_not_wait_for_a_registry_that_never_answers() -> None:
    """The warm-up while bake runs: nothing waits for it (a Ctrl-C's exit included)."""
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    reg = Registry(credentials=Credentials("/nonexistent"), budget=30)
    t0 = time.monotonic()
    try:
        reg.connect([f"127.0.0.1:{silent.getsockname()[1]}/o/r:v1"])
        assert time.monotonic() - t0 < 0.5
    finally:
        silent.close()
        reg.close()


# ---------------------------------------------------------------- credentials and access


def _config(tmp_path: Path, auths: dict[str, object]) -> Path:
    (tmp_path / "config.json").write_text(json.dumps({"auths": auths}))
    return tmp_path / "config.json"


@pytest.mark.parametrize(
    "entry",
    [
        {"auth": "%%% not base64 %%%"},
        {"auth": base64.b64encode(b"no-colon-here").decode()},
        {"auth": base64.b64encode(b":password-without-user").decode()},
        {"auth": base64.b64encode(b"\xff\xfe:x").decode()},
        "not an object",
    ],
    ids=["not-base64", "no-colon", "no-user", "not-utf8", "not-an-object"],
)
def test_an_unreadable_auth_entry_is_no_credentials_and_one_warning(
    tmp_path: Path, entry: object
) -> None:
    cfg = _config(tmp_path, {"reg.example": entry})
    warned: list[str] = []
    creds = Credentials(str(tmp_path), warn=warned.append)
    assert creds.lookup("reg.example") is None
    assert creds.lookup("reg.example") is None
    [line] = warned
    assert "reg.example" in line and str(cfg) in line and "docker login reg.example" in line
    assert "\n" not in line


def _basic_registry(good: bytes | None) -> Callable[[Request], Response]:
    """A registry asking for basic auth; `good` is the user:password it takes."""

    def handler(request: Request) -> Response:
        want = "Basic " + base64.b64encode(good).decode() if good else None
        if want and request.headers.get("Authorization") == want:
            return ok_index(request)
        body = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
        return Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'}, json_body=body)

    return handler


def test_a_401_without_credentials_says_docker_login(tmp_path: Path) -> None:
    from bakeguard.registry import AccessDenied
    from bakeguard.registry.verdict import advice, table
    from bakeguard.registry.verify import Expectation, Verifier

    cfg = _config(tmp_path, {})
    reg = Registry(credentials=Credentials(str(tmp_path)), transport=_basic_registry(b"u:p"))
    with pytest.raises(AccessDenied) as e:
        reg.manifest(Reference.parse("reg.example/o/r:v1"))
    assert e.value.problem == "no-credentials" and e.value.fix == "docker login reg.example"
    assert f"no credentials for reg.example in {cfg} (or its credential helper)" in str(e.value)
    [out] = Verifier(reg).run([Expectation("app", "reg.example/o/r:v1", ("linux/amd64",))])
    assert (out.auth, out.fix) == ("no-credentials", "docker login reg.example")
    assert out.to_json()["auth"] == "no-credentials"
    assert "  fix: docker login reg.example" in table([out])
    assert advice([out], "push again") == "docker login reg.example"


def test_a_401_with_credentials_says_they_were_refused(tmp_path: Path) -> None:
    from bakeguard.registry import AccessDenied

    _config(tmp_path, {"reg.example": {"auth": base64.b64encode(b"u:old").decode()}})
    reg = Registry(credentials=Credentials(str(tmp_path)), transport=_basic_registry(b"u:p"))
    with pytest.raises(AccessDenied) as e:
        reg.manifest(Reference.parse("reg.example/o/r:v1"))
    assert e.value.problem == "refused" and e.value.fix == "docker login reg.example again"
    assert "the credentials for reg.example were refused (wrong or expired)" in str(e.value)
    assert "old" not in str(e.value)


@pytest.mark.parametrize("stored", [False, True])
def test_a_token_endpoint_refusing_is_the_registry_s_401(tmp_path: Path, stored: bool) -> None:
    from bakeguard.registry import AccessDenied

    auths: dict[str, object] = {}
    if stored:
        auths["reg.example"] = {"auth": base64.b64encode(b"ci:old").decode()}
    _config(tmp_path, auths)

    def handler(request: Request) -> Response:
        if request.path == "/token":
            return Response(401)
        challenge = 'Bearer realm="https://reg.example/token",service="reg"'
        return Response(401, headers={"WWW-Authenticate": challenge})

    reg = Registry(credentials=Credentials(str(tmp_path)), transport=handler)
    with pytest.raises(AccessDenied) as e:
        reg.manifest(Reference.parse("reg.example/o/r:v1"))
    assert e.value.problem == ("refused" if stored else "no-credentials")


def test_a_403_says_the_account_lacks_pull_rights(tmp_path: Path) -> None:
    from bakeguard.registry import AccessDenied

    _config(tmp_path, {"reg.example": {"auth": base64.b64encode(b"ci:s3cret").decode()}})

    def handler(request: Request) -> Response:
        return Response(403, json_body={"errors": [{"code": "DENIED", "message": "no"}]})

    reg = Registry(credentials=Credentials(str(tmp_path)), transport=handler)
    with pytest.raises(AccessDenied) as e:
        reg.manifest(Reference.parse("reg.example/o/r:v1"))
    assert e.value.problem == "forbidden" and e.value.status == 403
    assert "the account 'ci' lacks pull rights on the repository" in str(e.value)
