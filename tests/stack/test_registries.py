"""Every real registry of the stack, one case at a time (issue #18): Debian's distribution
2.8 (plain), distribution v3 (dist3, and dist3-auth with htpasswd over plain HTTP) and
go-containerregistry's `crane registry serve` (crane). Each gets the same pushes, splits,
attestations and breakages; where one answers differently, the test says how."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import reports
from tests.helpers import THREE, Stack, bake, bakeguard, login, platforms_at, unique_repo

NAMES = ("plain", "dist3", "dist3-auth", "crane")
INDEX_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


@dataclass(frozen=True)
class Registry:
    name: str
    host: str  # localhost:PORT, as tags name it
    stack: Stack
    tmp: Path
    logged_in: dict[str, dict[str, str]] = field(default_factory=dict)  # label -> env

    @property
    def auth(self) -> bool:
        return self.name == "dist3-auth"

    def env(self, label: str = "newest", **extra: str) -> dict[str, str]:
        """One buildx version's environment; logged in first where the registry wants it."""
        if not self.auth:
            return self.stack.buildx(label, **extra)
        if label not in self.logged_in:
            env = self.stack.private_config(label, self.tmp / self.name)
            done = login(env, self.host, self.stack.tls_user, self.stack.tls_password)
            assert done.returncode == 0, done.stderr
            self.logged_in[label] = env
        return {**self.logged_in[label], **extra}

    def http(self, method: str, path: str) -> tuple[int, Mapping[str, str], bytes]:
        """One request to the registry's API (basic auth where it wants it)."""
        req = urllib.request.Request(f"http://{self.host}/v2/{path}", method=method)
        req.add_header("Accept", INDEX_TYPES)
        if self.auth:
            user = f"{self.stack.tls_user}:{self.stack.tls_password}".encode()
            req.add_header("Authorization", "Basic " + base64.b64encode(user).decode())
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def tags(self, repo: str) -> list[str]:
        status, _, body = self.http("GET", f"{repo}/tags/list")
        assert status == 200, body
        return sorted(json.loads(body).get("tags") or [])


def running(stack: Stack, name: str) -> str:
    """localhost:PORT of a registry of the stack; a stack started before it existed skips
    the test locally and fails it under CI, as the stack fixture does."""
    addr = stack.registries[name]
    host, port = addr.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            pass
    except OSError as e:
        why = f"registry {name} not running at {addr} ({e}); run scripts/stack up"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    return f"localhost:{port}"


@pytest.fixture(params=NAMES)
def reg(request: pytest.FixtureRequest, stack: Stack, tmp_path: Path) -> Registry:
    return Registry(request.param, running(stack, request.param), stack, tmp_path)


def _push(reg: Registry, project: Path, *args: str, label: str = "newest") -> tuple[str, str]:
    """A verified 3-platform push with bakeguard: (repo, tag)."""
    repo = f"{unique_repo(reg.name)}/app"
    tag = f"{reg.host}/{repo}:v1"
    res = bakeguard(["--push", *args], reg.env(label, TAG=tag), project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"verify {tag} (target app): OK, 3/3 platforms" in res.stderr
    return repo, tag


def test_plain_push_verifies(reg: Registry, project: Path) -> None:
    _, tag = _push(reg, project)
    assert platforms_at(tag, reg.env()) == THREE


@pytest.mark.parametrize("label", ["newest", "v0.21.1"])
def test_split_by_per_platform_tags(reg: Registry, project: Path, label: str) -> None:
    repo, tag = _push(reg, project, "--guard-split=always", label=label)
    assert reg.tags(repo) == ["v1", "v1-linux-amd64", "v1-linux-arm-v7", "v1-linux-arm64"]
    assert platforms_at(tag, reg.env(label)) == THREE


def test_split_by_digest(reg: Registry, project: Path) -> None:
    repo, tag = _push(reg, project, "--builder", "bg-remote", "--guard-split=always")
    assert reg.tags(repo) == ["v1"]  # by digest: no per-platform tags
    assert platforms_at(tag, reg.env()) == THREE


def _index(reg: Registry, repo: str, ref: str = "v1") -> dict[str, object]:
    status, _, body = reg.http("GET", f"{repo}/manifests/{ref}")
    assert status == 200, body
    doc: dict[str, object] = json.loads(body)
    return doc


def test_provenance_attestations_are_ignored(reg: Registry, project: Path) -> None:
    repo, _ = _push(reg, project, "--builder", "bg-remote", "--provenance=mode=max")
    kinds = [
        m.get("annotations", {}).get("vnd.docker.reference.type")
        for m in _index(reg, repo)["manifests"]  # type: ignore[attr-defined]
    ]
    assert kinds.count("attestation-manifest") == 3  # in the index, not counted as platforms


def test_verify_only_after_a_single_platform_push(reg: Registry, project: Path) -> None:
    _, tag = _push(reg, project)
    env = reg.env(TAG=tag)
    one = bake(["--push", "--set", "app.platform=linux/amd64"], env, project)
    assert one.returncode == 0, one.stderr[-2000:]
    res = bakeguard(["--guard-verify-only", "--push"], env, project)
    assert res.returncode == 3, res.stderr[-3000:]
    assert "missing: linux/arm64, linux/arm/v7" in res.stderr
    assert "found: linux/amd64" in res.stderr


def test_a_child_manifest_deleted_under_the_index(reg: Registry, project: Path) -> None:
    repo, tag = _push(reg, project, "--builder", "bg-remote", "--provenance=false")
    arm64 = next(
        str(m["digest"])
        for m in _index(reg, repo)["manifests"]  # type: ignore[attr-defined]
        if m["platform"]["architecture"] == "arm64"
    )
    status, _, body = reg.http("DELETE", f"{repo}/manifests/{arm64}")
    assert status == 202, body
    env = reg.env(TAG=tag, BAKEGUARD_VERIFY_TIMEOUT="5")
    res = bakeguard(["--guard-verify-only", "--push"], env, project)
    assert res.returncode == 3, res.stderr[-3000:]
    assert f"child manifests missing: {arm64}" in res.stderr


@pytest.mark.parametrize("password", ["right", "wrong"])
def test_basic_auth_over_plain_http(
    stack: Stack, project: Path, tmp_path: Path, password: str
) -> None:
    """dist3-auth: htpasswd over plain HTTP on loopback. The right password verifies; a
    wrong one is refused credentials (exit 3), named as such, no secret printed."""
    host = running(stack, "dist3-auth")
    env = stack.private_config("newest", tmp_path)
    assert login(env, host, stack.tls_user, stack.tls_password).returncode == 0
    tag = f"{host}/{unique_repo('auth')}/app:v1"
    env["TAG"] = tag
    res = bakeguard(["--push"], env, project)
    assert res.returncode == 0 and "OK, 3/3" in res.stderr, res.stderr[-3000:]
    if password == "right":
        return
    wrong = "not-the-password-" + "y" * 8
    _set_auth(env, host, f"{stack.tls_user}:{wrong}")
    res = bakeguard(["--guard-verify-only", "--push"], env, project)
    assert res.returncode == 3, res.stderr[-3000:]
    assert f"the credentials for {host} were refused (wrong or expired)" in res.stderr
    assert f"docker login {host} again" in res.stderr
    assert wrong not in res.stderr + res.stdout and stack.tls_password not in res.stderr


def _set_auth(env: Mapping[str, str], host: str, user_password: str) -> None:
    cfg = Path(env["DOCKER_CONFIG"]) / "config.json"
    doc = json.loads(cfg.read_text())
    doc.setdefault("auths", {})[host] = {"auth": base64.b64encode(user_password.encode()).decode()}
    cfg.write_text(json.dumps(doc))


# Where the registries answer differently (probed on the stack for issue #18). bakeguard's
# client depends on none of it: it always accepts OCI and Docker types, reads a 404 as "not
# found" whatever its error code, and never deletes or follows a PUT's Location.
DIFFERENCES: dict[str, dict[str, object]] = {
    # GET of a tag holding an OCI index, Accept naming only Docker's list type: 2.8 refuses
    # ("OCI index found, but accept header does not support OCI indexes"), the others serve it.
    "docker-only-accept": {"plain": 404, "dist3": 200, "dist3-auth": 200, "crane": 200},
    # DELETE /v2/REPO/manifests/TAG: 2.8 deletes by digest only (400 DIGEST_INVALID).
    "delete-by-tag": {"plain": 400, "dist3": 202, "dist3-auth": 202, "crane": 202},
    # the error code of a 404 for a tag in a repository nobody pushed to
    "unknown-repository": {
        "plain": "MANIFEST_UNKNOWN",
        "dist3": "MANIFEST_UNKNOWN",
        "dist3-auth": "MANIFEST_UNKNOWN",
        "crane": "NAME_UNKNOWN",
    },
    # a manifest PUT's 201 carries a Location
    "put-location": {"plain": True, "dist3": True, "dist3-auth": True, "crane": False},
}


def test_where_registries_differ_and_bakeguard_does_not_care(reg: Registry, project: Path) -> None:
    repo, tag = _push(reg, project)
    docker_list = "application/vnd.docker.distribution.manifest.list.v2+json"
    req = urllib.request.Request(f"http://{reg.host}/v2/{repo}/manifests/v1")
    req.add_header("Accept", docker_list)
    if reg.auth:
        user = f"{reg.stack.tls_user}:{reg.stack.tls_password}".encode()
        req.add_header("Authorization", "Basic " + base64.b64encode(user).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    assert status == DIFFERENCES["docker-only-accept"][reg.name]

    _, headers, body = reg.http("GET", f"{repo}/manifests/v1")
    ctype = {k.lower(): v for k, v in headers.items()}["content-type"]
    put = urllib.request.Request(
        f"http://{reg.host}/v2/{repo}/manifests/copy", data=body, method="PUT"
    )
    put.add_header("Content-Type", ctype)
    if reg.auth:
        put.add_header("Authorization", req.get_header("Authorization") or "")
    with urllib.request.urlopen(put, timeout=10) as r:
        assert r.status == 201
        assert ("Location" in r.headers) == DIFFERENCES["put-location"][reg.name]
    status, _, _ = reg.http("DELETE", f"{repo}/manifests/copy")
    assert status == DIFFERENCES["delete-by-tag"][reg.name]

    never = f"{unique_repo('never')}/app"
    status, _, body = reg.http("GET", f"{never}/manifests/v1")
    assert status == 404
    assert json.loads(body)["errors"][0]["code"] == DIFFERENCES["unknown-repository"][reg.name]
    env = reg.env(TAG=f"{reg.host}/{never}:v1", BAKEGUARD_VERIFY_TIMEOUT="1")
    res = bakeguard(["--guard-verify-only", "--push"], env, project)
    assert res.returncode == 3 and "not found" in res.stderr, res.stderr[-2000:]
    assert platforms_at(tag, reg.env()) == THREE  # the first tag untouched by all of this


def test_distribution_v3_exports_no_telemetry(stack: Stack) -> None:
    """Without OTEL_*=none in its environment, distribution v3 posts traces to
    localhost:4318 and logs `traces export: ... connection refused` every few seconds."""
    logs = Path(stack.env["BAKEGUARD_STACK_DIR"]) / "run" / "logs"
    for name in ("registry-dist3", "registry-dist3-auth"):
        running(stack, name.removeprefix("registry-"))
        text = (logs / f"{name}.log").read_text(errors="replace")
        assert "traces export" not in text and "localhost:4318" not in text, name


def _platform(p: Mapping[str, str]) -> str:
    return "/".join(filter(None, (p.get("os"), p.get("architecture"), p.get("variant"))))


def _children(index: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """An index read from the registry's API: its platform entries by platform, and its
    attestation entries."""
    plats, atts = {}, []
    for m in index["manifests"]:
        if m["platform"]["os"] == "unknown":
            atts.append(m)
        else:
            plats[_platform(m["platform"])] = m
    return plats, atts


def test_the_report_names_each_platform_manifest_as_the_registry_holds_it(
    reg: Registry, project: Path, tmp_path: Path
) -> None:
    """bake's metadata names one digest per target; the report names, per verified tag,
    each platform's manifest (digest, media type, size) and what each attestation attests,
    exactly as the tag's index in the registry says."""
    report = tmp_path / "report.json"
    args = ["--builder", "bg-remote", "--provenance=mode=max", "--guard-report", str(report)]
    repo, _ = _push(reg, project, "--guard-split=never", *args)
    [v] = reports.load(report)["verification"]
    status, _, body = reg.http("GET", f"{repo}/manifests/v1")
    assert status == 200 and v["digest"] == "sha256:" + hashlib.sha256(body).hexdigest()
    plats, atts = _children(json.loads(body))
    assert set(plats) == THREE and len(atts) == 3
    assert {
        p["platform"]: (p["digest"], p["media_type"], p["size"]) for p in v["platform_manifests"]
    } == {k: (m["digest"], m["mediaType"], m["size"]) for k, m in plats.items()}
    assert sorted(
        (a["digest"], a["subject"], a["media_type"]) for a in v["attestations"]
    ) == sorted(
        (m["digest"], m["annotations"]["vnd.docker.reference.digest"], m["mediaType"]) for m in atts
    )
    for a in v["attestations"]:  # each attests one platform's manifest in this index
        assert plats[a["subject_platform"]]["digest"] == a["subject"]
    assert {a["subject_platform"] for a in v["attestations"]} == THREE


@pytest.mark.parametrize("provenance", ["false", "mode=max"])
def test_a_split_report_names_each_platform_s_source(
    reg: Registry, project: Path, tmp_path: Path, provenance: str
) -> None:
    """The split's entry names, per platform, the image its tags were assembled from: the
    very manifest the final index names for that platform, or (with attestations, when the
    per-platform push is itself an index) the index that holds it."""
    report = tmp_path / "report.json"
    args = ["--builder", "bg-remote", f"--provenance={provenance}", "--guard-report", str(report)]
    repo, _ = _push(reg, project, "--guard-split=always", *args)
    doc = reports.load(report)
    [split], [v] = doc["split"], doc["verification"]
    pairs = split["platform_sources"]
    assert [p["platform"] for p in pairs] == split["platforms"]
    assert [p["source"] for p in pairs] == split["sources"]
    final, _ = _children(_index(reg, repo))
    assert {p["platform"] for p in pairs} == set(final) == THREE
    for p in pairs:
        assert p["source"] == f"{reg.host}/{repo}@{p['digest']}"
        status, _, body = reg.http("GET", f"{repo}/manifests/{p['digest']}")
        assert status == 200 and "sha256:" + hashlib.sha256(body).hexdigest() == p["digest"]
        source = json.loads(body)
        if provenance == "false":
            assert "manifests" not in source  # the per-platform image is one manifest ...
            assert final[p["platform"]]["digest"] == p["digest"]  # ... the index names
        else:
            inner, atts = _children(source)
            assert list(inner) == [p["platform"]] and len(atts) == 1
            assert final[p["platform"]]["digest"] == inner[p["platform"]]["digest"]
    assert {m["platform"]: m["digest"] for m in v["platform_manifests"]} == {
        k: m["digest"] for k, m in final.items()
    }
