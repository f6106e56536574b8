"""Attestations verified per platform on the real stack: buildx's default provenance proven on
every platform of a plain push, a split (docker driver's per-platform tags; bg-remote's
BuildKit v0.34.2 pushes by digest, in the OCI artifact format) and shards + merge; a platform
whose attestation an index lacks is exit 3 naming the target, tag, platform and kind (a merge
from a shard's image manifest rather than its index, as users' merges lose them:
docker/bake-action#349, docker/buildx#3047); SBOM verification on attestation manifests the
test writes itself (the default scanner image cannot be pulled here); a profile that drops
attestations says so and passes."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests import reports
from tests.helpers import THREE, Stack, bakeguard, unique_repo

REGISTRY = "127.0.0.1:5000"
SPDX = "https://spdx.dev/Document"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = (
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json"
)


def digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def get(repo: str, ref: str) -> dict[str, Any]:
    req = urllib.request.Request(
        f"http://{REGISTRY}/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT}
    )
    with urllib.request.urlopen(req, timeout=20) as r:
        doc: dict[str, Any] = json.load(r)
    return doc


def put_manifest(repo: str, ref: str, doc: dict[str, Any]) -> tuple[str, int]:
    body = json.dumps(doc).encode()
    req = urllib.request.Request(
        f"http://{REGISTRY}/v2/{repo}/manifests/{ref}",
        data=body,
        method="PUT",
        headers={"Content-Type": doc["mediaType"]},
    )
    with urllib.request.urlopen(req, timeout=20):
        pass
    return digest(body), len(body)


def put_blob(repo: str, body: bytes) -> dict[str, Any]:
    start = urllib.request.Request(
        f"http://{REGISTRY}/v2/{repo}/blobs/uploads/", data=b"", method="POST"
    )
    with urllib.request.urlopen(start, timeout=20) as r:
        where = r.headers["Location"]
    if where.startswith("/"):
        where = f"http://{REGISTRY}{where}"
    sep = "&" if "?" in where else "?"
    done = urllib.request.Request(
        f"{where}{sep}digest={digest(body)}",
        data=body,
        method="PUT",
        headers={"Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(done, timeout=20):
        pass
    return {"mediaType": "application/vnd.in-toto+json", "digest": digest(body), "size": len(body)}


def pushed(
    stack: Stack, project: Path, builder: str, *args: str
) -> tuple[str, str, dict[str, str]]:
    """A 3-platform push with buildx's default provenance, verified with it: (repo, tag,
    env)."""
    repo = f"{unique_repo('attest')}/app"
    tag = f"localhost:5000/{repo}:v1"
    env = stack.buildx("newest", TAG=tag)
    res = bakeguard(["--push", "--builder", builder, *args], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"verify {tag} (target app): OK, 3/3 platforms" in res.stderr
    assert "attestations: provenance on 3/3 platforms" in res.stderr
    return repo, tag, env


def rewrite(repo: str, change: dict[str, Any]) -> None:
    """The tag's index written again, each platform's attestation entry changed: a platform
    mapped to None loses its entry; to a list of predicate types, gains an in-toto statement
    of each in its attestation manifest (written, with its blobs, to the registry)."""
    index = get(repo, "v1")
    platform_of = {
        m["digest"]: "/".join(filter(None, (p["os"], p["architecture"], p.get("variant"))))
        for m in index["manifests"]
        if (p := m["platform"])["os"] != "unknown"
    }
    entries = []
    for m in index["manifests"]:
        subject = (m.get("annotations") or {}).get("vnd.docker.reference.digest")
        what = change.get(platform_of.get(subject or "", ""), ...)
        if what is None:
            continue
        if isinstance(what, list):
            att = get(repo, m["digest"])
            for predicate in what:
                statement = {
                    "_type": "https://in-toto.io/Statement/v0.1",
                    "predicateType": predicate,
                }
                layer = put_blob(repo, json.dumps({**statement, "subject": subject}).encode())
                att["layers"].append(
                    {**layer, "annotations": {"in-toto.io/predicate-type": predicate}}
                )
            d, size = put_manifest(repo, digest(json.dumps(att).encode()), att)
            entries.append({**m, "digest": d, "size": size})
            continue
        entries.append(m)
    put_manifest(repo, "v1", {**index, "manifests": entries})


# ---------------------------------------------------------------- provenance kept


@pytest.mark.parametrize(
    ("builder", "split", "asked"),
    [
        ("bg-remote", "never", ()),
        ("bg-multi", "never", ()),
        ("default", "always", ()),
        ("default", "always", ("--provenance=mode=max",)),
        ("bg-remote", "always", ()),
    ],
)
def test_provenance_is_proven_on_every_platform(
    stack: Stack, project: Path, tmp_path: Path, builder: str, split: str, asked: tuple[str, ...]
) -> None:
    """buildx's default provenance, or the one asked for: plain (one node; two nodes through
    buildx's multi-node merge) and split (per-platform tags on the docker driver, by digest
    on bg-remote): the split's generated definition keeps the target's attest and buildx's
    default, and its index the attestations."""
    report = tmp_path / "report.json"
    args = (f"--guard-split={split}", f"--guard-report={report}", *asked)
    pushed(stack, project, builder, *args)
    [v] = reports.load(report)["verification"]
    assert v["ok"] and v["attestations_expected"] == ["provenance"]
    assert {a["platform"]: a["kinds"] for a in v["attestation_kinds"]} == {
        p: ["provenance"] for p in THREE
    }
    slsa = {t for a in v["attestation_kinds"] for t in a["predicate_types"]}
    assert slsa <= {"https://slsa.dev/provenance/v0.2", "https://slsa.dev/provenance/v1"}


def test_shards_and_merge_carry_provenance_and_a_merge_that_drops_one_is_exit_3(
    stack: Stack, project: Path, tmp_path: Path
) -> None:
    tag = f"localhost:5000/{unique_repo('attshard')}/app:v1"
    env = stack.buildx("newest", TAG=tag)
    digests = tmp_path / "digests"
    for plats in ("linux/amd64", "linux/arm64,linux/arm/v7"):
        args = ["--push", "--builder", "bg-remote", "--guard-shard", plats]
        res = bakeguard([*args, "--guard-digests", str(digests)], env, project)
        assert res.returncode == 0, res.stderr[-3000:]
    shard = json.loads((digests / "app-linux-arm64.json").read_text())
    assert shard["attestations"] == ["provenance"]
    res = bakeguard(["--guard-merge", str(digests)], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "attestations: provenance on 3/3 platforms" in res.stderr
    # a merge from the platform's image manifest, not the index holding it and its
    # attestation (what `docker manifest create` and hand-made merges do)
    name, _, index_digest = shard["source"].partition("@")
    repo = name.removeprefix("localhost:5000/")
    image = next(
        m for m in get(repo, index_digest)["manifests"] if m["platform"]["os"] != "unknown"
    )
    shard["source"] = f"{name}@{image['digest']}"
    (digests / "app-linux-arm64.json").write_text(json.dumps(shard))
    res = bakeguard(["--guard-merge", str(digests)], env, project)
    assert res.returncode == 3, res.stderr[-3000:]
    assert f"verify {tag} (target app): FAILED" in res.stderr
    assert "attestations missing: provenance of linux/arm64" in res.stderr


def test_an_index_without_one_platform_s_attestation_is_exit_3_naming_it(
    stack: Stack, project: Path, tmp_path: Path
) -> None:
    repo, tag, env = pushed(stack, project, "default")
    rewrite(repo, {"linux/arm/v7": None})
    report = tmp_path / "report.json"
    res = bakeguard(["--guard-verify-only", "--push", f"--guard-report={report}"], env, project)
    assert res.returncode == 3, res.stderr[-3000:]
    assert f"verify {tag} (target app): FAILED" in res.stderr
    assert "attestations missing: provenance of linux/arm/v7" in res.stderr
    [v] = reports.load(report)["verification"]
    assert v["attestations_missing"] == [{"platform": "linux/arm/v7", "kind": "provenance"}]


# ---------------------------------------------------------------- SBOM, written here


def test_sbom_attestations_are_verified_per_platform(
    stack: Stack, project: Path, tmp_path: Path
) -> None:
    """`--sbom=true` asks for an SBOM on every platform: attestation manifests in BuildKit's
    OCI artifact format (bg-remote) with an SPDX statement added to each but one."""
    repo, tag, env = pushed(stack, project, "bg-remote")
    args = ["--guard-verify-only", "--push", "--sbom=true", "--builder", "bg-remote"]
    rewrite(repo, {"linux/amd64": [SPDX], "linux/arm64": [SPDX], "linux/arm/v7": []})
    res = bakeguard(args, env, project)
    assert res.returncode == 3, res.stderr[-3000:]
    assert f"verify {tag} (target app): FAILED" in res.stderr
    assert "attestations missing: sbom of linux/arm/v7" in res.stderr
    rewrite(repo, {"linux/arm/v7": [SPDX]})
    report = tmp_path / "report.json"
    res = bakeguard([*args, f"--guard-report={report}"], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "attestations: provenance, sbom on 3/3 platforms" in res.stderr
    [v] = reports.load(report)["verification"]
    assert all(SPDX in a["predicate_types"] for a in v["attestation_kinds"])


def test_a_profile_that_drops_attestations_says_so_and_passes(stack: Stack, project: Path) -> None:
    tag = f"localhost:5000/{unique_repo('attdrop')}/app:v1"
    env = stack.buildx("newest", TAG=tag, BAKEGUARD_COMPAT="localhost:5000=no-attestations")
    res = bakeguard(["--push", "--provenance=mode=max", "--builder", "bg-remote"], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "OK, 3/3" in res.stderr
    assert (
        "attestations: none expected, the no-attestations profile pushes without them "
        "(provenance)" in res.stderr
    )
