"""Verification's per-platform answer: each platform's manifest digest and media type and each
attestation's subject, as the tag's own manifest in the registry names them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from bakeguard.refs import Reference
from bakeguard.registry import Credentials, Registry, RegistryError
from bakeguard.registry.entries import children
from bakeguard.registry.manifests import Index, digest_of
from bakeguard.registry.transport import Request, Response
from bakeguard.registry.verify import Expectation, Outcome, Verifier
from bakeguard.registry.wire import read_manifest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
THREE = ("linux/amd64", "linux/arm64", "linux/arm/v7")
CONFIG = json.dumps({"os": "linux", "architecture": "arm64"}).encode()


def d(name: str) -> str:
    """A well-formed digest, told apart by name."""
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


AMD, ARM64, ARMV7 = d("amd"), d("arm64"), d("armv7")


def index_with_attestations() -> dict[str, Any]:
    plats = [
        (AMD, {"os": "linux", "architecture": "amd64"}),
        (ARM64, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        (ARMV7, {"os": "linux", "architecture": "arm", "variant": "v7"}),
    ]
    manifests: list[dict[str, Any]] = [
        {"mediaType": OCI_MANIFEST, "digest": d, "size": 480 + i, "platform": p}
        for i, (d, p) in enumerate(plats)
    ]
    for digest, _p in plats:
        manifests.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": d(f"att-{digest}"),
                "size": 840,
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {
                    "vnd.docker.reference.digest": digest,
                    "vnd.docker.reference.type": "attestation-manifest",
                },
            }
        )
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}


class FakeRegistry:
    """Answers GET of the tag with `doc` (and its digest), HEAD of any child with 200, the
    config blob when asked; counts every request."""

    def __init__(self, doc: dict[str, Any], media_type: str) -> None:
        self.doc, self.media_type = doc, media_type
        self.requests: list[tuple[str, str]] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append((request.method, request.url))
        if "/blobs/" in request.url:
            return Response(200, content=CONFIG)
        if request.method == "HEAD":
            return Response(200)
        body = json.dumps(self.doc).encode()
        return Response(
            200,
            content=body,
            headers={"Content-Type": self.media_type, "Docker-Content-Digest": digest_of(body)},
        )

    def verify(self, refs: list[str], expected: tuple[str, ...] = THREE) -> list[Outcome]:
        reg = Registry(credentials=Credentials("/nonexistent"), transport=self, budget=5)
        return Verifier(reg).run([Expectation("app", r, expected) for r in refs])


def test_an_index_names_each_platform_s_digest_and_each_attestation_s_subject() -> None:
    fake = FakeRegistry(index_with_attestations(), OCI_INDEX)
    [out] = fake.verify(["reg.example/o/app:v1"])
    assert out.ok
    doc = out.to_json()
    assert doc["platform_manifests"] == [
        {
            "platform": "linux/amd64",
            "digest": AMD,
            "media_type": OCI_MANIFEST,
            "size": 480,
        },
        {
            "platform": "linux/arm64",
            "digest": ARM64,
            "media_type": OCI_MANIFEST,
            "size": 481,
        },
        {
            "platform": "linux/arm/v7",
            "digest": ARMV7,
            "media_type": OCI_MANIFEST,
            "size": 482,
        },
    ]
    assert [(a["subject"], a["subject_platform"]) for a in doc["attestations"]] == [
        (AMD, "linux/amd64"),
        (ARM64, "linux/arm64"),
        (ARMV7, "linux/arm/v7"),
    ]
    assert doc["attestations"][0] == {
        "digest": d(f"att-{AMD}"),
        "media_type": OCI_MANIFEST,
        "size": 840,
        "subject": AMD,
        "subject_platform": "linux/amd64",
    }
    # attestations are not platforms
    assert doc["found"] == list(THREE) and not doc["extra"]


def test_the_per_platform_answer_costs_no_request_of_its_own() -> None:
    """Read from the index verification already fetched: per tag one GET and a HEAD per
    platform manifest (that each resolves), nothing per attestation."""
    fake = FakeRegistry(index_with_attestations(), OCI_INDEX)
    refs = [f"reg.example/o/app:v{i}" for i in range(50)]
    outs = fake.verify(refs)
    assert all(o.ok and len(o.platform_manifests) == 3 for o in outs)
    gets = [u for m, u in fake.requests if m == "GET"]
    heads = [u for m, u in fake.requests if m == "HEAD"]
    assert len(gets) == 50 and len(heads) == 150
    assert not any(d(f"att-{p}") in u for u in heads for p in (AMD, ARM64, ARMV7))


def test_a_single_manifest_tag_is_one_platform_with_the_tag_s_own_digest() -> None:
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "digest": digest_of(CONFIG),
            "size": len(CONFIG),
            "mediaType": "application/vnd.oci.image.config.v1+json",
        },
        "layers": [],
    }
    fake = FakeRegistry(manifest, OCI_MANIFEST)
    [out] = fake.verify(["reg.example/o/app:v1"], ("linux/arm64",))
    body = json.dumps(manifest).encode()
    assert out.ok and out.to_json()["attestations"] == []
    assert out.to_json()["platform_manifests"] == [
        {
            "platform": "linux/arm64",
            "digest": digest_of(body),
            "media_type": OCI_MANIFEST,
            "size": len(body),
        }
    ]


def test_an_attestation_about_no_platform_of_the_index_says_so() -> None:
    """A subject the index does not hold (an index rewritten by hand, a front dropping a
    platform) keeps its digest and names no platform; one without the annotation, neither."""
    doc = index_with_attestations()
    doc["manifests"] = doc["manifests"][1:]  # amd64's manifest gone, its attestation kept
    doc["manifests"][-1]["annotations"] = {}
    body = json.dumps(doc).encode()
    index = read_manifest(Reference.parse("reg.example/o/app:v1"), body, OCI_INDEX, "")
    assert isinstance(index.doc, Index)
    kids = children(index.doc, index.digest)
    plats, atts = kids.platforms, kids.attestations
    assert [p.platform for p in plats] == ["linux/arm64", "linux/arm/v7"]
    assert [(a.subject, a.subject_platform) for a in atts] == [
        (AMD, None),
        (ARM64, "linux/arm64"),
        (None, None),
    ]


def test_a_failed_read_has_empty_per_platform_lists() -> None:
    out = Outcome("app", "reg.example/o/app:v1", THREE, error="GET ...: 404", status=404)
    assert out.to_json()["platform_manifests"] == [] and out.to_json()["attestations"] == []


def test_a_manifest_asked_for_by_digest_is_hashed_against_that_digest() -> None:
    """A by-digest GET: the body must hash to the digest asked for, whatever the registry
    announces (before: its Docker-Content-Digest was believed, the body never hashed)."""
    body = json.dumps(index_with_attestations()).encode()
    asked = d("another index")

    def send(request: Request) -> Response:
        headers = {"Content-Type": OCI_INDEX, "Docker-Content-Digest": asked}
        return Response(200, content=body, headers=headers)

    reg = Registry(credentials=Credentials("/nonexistent"), transport=send, budget=0)
    ref = Reference.parse(f"reg.example/o/app@{asked}")
    with pytest.raises(RegistryError, match=f"hashes to {digest_of(body)}, not to the {asked}"):
        reg.manifest(ref)
    good = Reference.parse(f"reg.example/o/app@{digest_of(body)}")
    assert reg.manifest(good).digest == digest_of(body)
