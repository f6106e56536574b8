"""A registry of canned answers (a `Send` for bakeguard's Registry), built from the real
answers in tests/data/registry, and bakeguard run through its real entry point
(`bakeguard.cli.main`, in process, with a fake docker) against it: what a registry sends
reaches the same code as in a user's run, only the socket is left out.

tests/data/registry holds what the stack's registries answered (distribution 2.8 on
127.0.0.1:5000) for `tests/data/corpus` pushed by buildx v0.38 (an OCI index of three
platforms with their attestations: oci-index.json, the amd64 manifest and config, an
attestation manifest) and by `--guard-split` under the docker-v2 profile (docker-list.json,
the amd64 manifest and config); errors.json, the error bodies distribution 2.8, v3.1.2 and
crane answer, by status."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bakeguard import session
from bakeguard.cli import main
from bakeguard.registry import Credentials, Registry
from bakeguard.registry.transport import Request, Response
from tests import reports
from tests.unit.test_inputs import fake_docker_ground

DATA = Path(__file__).resolve().parents[1] / "data" / "registry"
HOST = "reg.example"
THREE = ("linux/amd64", "linux/arm64", "linux/arm/v7")
TARGETS = {  # target: (its tag, its platforms)
    "app": (f"{HOST}/o/app:v1", THREE),
    "one": (f"{HOST}/o/one:v1", ("linux/amd64",)),
    "any": (f"{HOST}/o/any:v1", ()),  # whatever single platform the builder made
}
ERRORS: list[dict[str, Any]] = json.loads((DATA / "errors.json").read_text())
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DIGEST = re.compile(r"sha256:[a-f0-9]{64}")  # (what this registry holds)


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def data(name: str) -> bytes:
    return (DATA / name).read_bytes()


def doc(name: str) -> Any:
    return json.loads(data(name))


def media_type(body: bytes) -> str:
    try:
        return str(json.loads(body)["mediaType"])
    except (ValueError, KeyError, TypeError):
        return "application/json"


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def tag_answer(body: bytes, content_type: str | None = None, digest: str | None = None) -> Answer:
    """A 200 for a by-tag manifest GET as distribution sends it (Content-Type, the body's
    digest announced), each header replaceable."""
    return Answer(
        200,
        body,
        {
            "Content-Type": media_type(body) if content_type is None else content_type,
            "Docker-Content-Digest": digest_of(body) if digest is None else digest,
        },
    )


@dataclass
class Canned:
    """The tag's answer (for every repository), manifests and blobs by digest (a GET is
    answered with the bytes, a HEAD with 200; an unknown digest with distribution's 404).
    Every request is logged."""

    tag: Answer
    manifests: dict[str, bytes] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, request: Request) -> Response:
        self.seen.append((request.method, request.path))
        kind, _, ref = request.path.rpartition("/")
        if kind.endswith("/manifests") and not DIGEST.fullmatch(ref):
            a = self.tag
            return Response(a.status, a.headers, a.body if request.method == "GET" else b"")
        found = (self.blobs if kind.endswith("/blobs") else self.manifests).get(ref)
        if found is None:
            body = ERRORS[0 if kind.endswith("/manifests") else 4]["body"].encode()
            return Response(404, {"Content-Type": "application/json"}, body)
        ctype = media_type(found) if kind.endswith("/manifests") else "application/json"
        headers = {"Content-Type": ctype, "Docker-Content-Digest": ref}
        return Response(200, headers, found if request.method == "GET" else b"")


def real_registry(tag: bytes) -> Canned:
    """The stack registry's content (every manifest and blob in tests/data/registry, and each
    digest an index names there, as HEAD sees it), answering `tag` for the tag."""
    manifests: dict[str, bytes] = {}
    blobs: dict[str, bytes] = {}
    for f in sorted(DATA.glob("*.json")):
        body = f.read_bytes()
        (blobs if "config" in f.name else manifests)[digest_of(body)] = body
    for name in ("oci-index.json", "docker-list.json"):
        for entry in doc(name)["manifests"]:
            manifests.setdefault(entry["digest"], b"{}")
    return Canned(tag_answer(tag), manifests, blobs)


def definition(target: str) -> str:
    """What the fake `bake --print TARGET` prints: the target pushing its tag (TARGETS)."""
    tag, platforms = TARGETS[target]
    t: dict[str, Any] = {
        "context": ".",
        "dockerfile": "Dockerfile",
        "tags": [tag],
        "output": [{"type": "image", "push": "true"}],
        # (no attestation asked: the canned answers are read for their platforms; the
        # attestations of oci-index.json are verified in test_attest.py)
        "attest": [{"type": "provenance", "disabled": True}],
    }
    if platforms:
        t["platforms"] = list(platforms)
    return json.dumps({"group": {"default": {"targets": [target]}}, "target": {target: t}})


class FakeTime:
    """A clock that only sleeping moves: a registry's retries cost no time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Run:
    code: int
    err: str
    report: dict[str, Any]


@dataclass
class Ground:
    """A folder, a fake docker and a registry `send` the next run will use."""

    path: Path
    capfd: pytest.CaptureFixture[str]
    send: Callable[[Request], Response] | None = None

    def run(
        self,
        argv: list[str],
        send: Callable[[Request], Response],
        env: dict[str, str] | None = None,
    ) -> Run:
        """bakeguard ARGV with a report, in process, against `send` (with `env` set): the
        exit code, stderr and the report (checked against the schema). A traceback fails
        the test."""
        self.send = send
        saved = dict(os.environ)
        os.environ.update(env or {})
        report = self.path / "report.json"
        report.unlink(missing_ok=True)
        self.capfd.readouterr()
        before = set(threading.enumerate())
        try:
            code = main([*argv, "--guard-report", str(report)])
        except Exception:
            pytest.fail(f"traceback for {argv}:\n{traceback.format_exc()}")
        finally:
            for t in set(threading.enumerate()) - before:
                with contextlib.suppress(RuntimeError):
                    t.join(timeout=30)
            os.environ.clear()
            os.environ.update(saved)
        out, err = self.capfd.readouterr()
        assert "Traceback (most recent call last)" not in out + err, err
        assert report.exists(), f"no report for {argv}: {err}"
        return Run(code, err, reports.load(report))

    def verify(self, target: str, send: Callable[[Request], Response]) -> Run:
        return self.run(["--guard-verify-only", "--push", target], send, target_env(self, target))


def target_env(g: Ground, target: str) -> dict[str, str]:
    """The fake bake prints `target` alone (the cache of `bake --print` keys on this too)."""
    return {"FUZZ_DEFINITION_PUSH": str(g.path / f"def-{target}.json")}


@pytest.fixture
def ground(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> Iterator[Ground]:
    for target in TARGETS:
        (tmp_path / f"def-{target}.json").write_text(definition(target))
    app = tmp_path / "def-app.json"
    fake_docker_ground(tmp_path, monkeypatch, app, app)
    g = Ground(tmp_path, capfd)

    def registry(self: session.Session, env: object) -> Registry:
        t = FakeTime()
        assert g.send is not None
        return Registry(
            credentials=Credentials(str(tmp_path / "docker-config")),
            budget=5,
            transport=g.send,
            sleep=t.sleep,
            clock=t.clock,
        )

    monkeypatch.setattr(session.Session, "registry", registry)
    yield g
