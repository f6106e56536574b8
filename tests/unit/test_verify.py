"""Verification's per-platform answer: each platform's manifest digest and media type and each
attestation's subject, as the tag's own manifest in the registry names them."""

from __future__ import annotations

import json
from typing import Any

from bakeguard.registry import Credentials, Registry
from bakeguard.registry.transport import Request, Response
from bakeguard.registry.verify import Expectation, Outcome, Verifier, children

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
THREE = ("linux/amd64", "linux/arm64", "linux/arm/v7")


def index_with_attestations() -> dict[str, Any]:
    plats = [
        ("sha256:amd", {"os": "linux", "architecture": "amd64"}),
        ("sha256:arm64", {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        ("sha256:armv7", {"os": "linux", "architecture": "arm", "variant": "v7"}),
    ]
    manifests: list[dict[str, Any]] = [
        {"mediaType": OCI_MANIFEST, "digest": d, "size": 480 + i, "platform": p}
        for i, (d, p) in enumerate(plats)
    ]
    for d, _p in plats:
        manifests.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": f"sha256:att-{d[7:]}",
                "size": 840,
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {
                    "vnd.docker.reference.digest": d,
                    "vnd.docker.reference.type": "attestation-manifest",
                },
            }
        )
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}


class FakeRegistry:
    """Answers GET of the tag with `doc`, HEAD of any child with 200, a config blob when
    asked; counts every request."""

    def __init__(self, doc: dict[str, Any], media_type: str) -> None:
        self.doc, self.media_type = doc, media_type
        self.requests: list[tuple[str, str]] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append((request.method, request.url))
        if "/blobs/" in request.url:
            return Response(200, json_body={"os": "linux", "architecture": "arm64"})
        if request.method == "HEAD":
            return Response(200)
        return Response(
            200,
            content=json.dumps(self.doc).encode(),
            headers={"Content-Type": self.media_type, "Docker-Content-Digest": "sha256:tag"},
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
            "digest": "sha256:amd",
            "media_type": OCI_MANIFEST,
            "size": 480,
        },
        {
            "platform": "linux/arm64",
            "digest": "sha256:arm64",
            "media_type": OCI_MANIFEST,
            "size": 481,
        },
        {
            "platform": "linux/arm/v7",
            "digest": "sha256:armv7",
            "media_type": OCI_MANIFEST,
            "size": 482,
        },
    ]
    assert [(a["subject"], a["subject_platform"]) for a in doc["attestations"]] == [
        ("sha256:amd", "linux/amd64"),
        ("sha256:arm64", "linux/arm64"),
        ("sha256:armv7", "linux/arm/v7"),
    ]
    assert doc["attestations"][0] == {
        "digest": "sha256:att-amd",
        "media_type": OCI_MANIFEST,
        "size": 840,
        "subject": "sha256:amd",
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
    assert not any("att-" in u for u in heads)


def test_a_single_manifest_tag_is_one_platform_with_the_tag_s_own_digest() -> None:
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"digest": "sha256:cfg", "mediaType": "application/vnd.oci.image.config.v1+json"},
        "layers": [],
    }
    fake = FakeRegistry(manifest, OCI_MANIFEST)
    [out] = fake.verify(["reg.example/o/app:v1"], ("linux/arm64",))
    body = json.dumps(manifest).encode()
    assert out.ok and out.to_json()["attestations"] == []
    assert out.to_json()["platform_manifests"] == [
        {
            "platform": "linux/arm64",
            "digest": "sha256:tag",
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
    plats, atts = children(doc)
    assert [p.platform for p in plats] == ["linux/arm64", "linux/arm/v7"]
    assert [(a.subject, a.subject_platform) for a in atts] == [
        ("sha256:amd", None),
        ("sha256:arm64", "linux/arm64"),
        (None, None),
    ]


def test_a_failed_read_has_empty_per_platform_lists() -> None:
    out = Outcome("app", "reg.example/o/app:v1", THREE, error="GET ...: 404", status=404)
    assert out.to_json()["platform_manifests"] == [] and out.to_json()["attestations"] == []
