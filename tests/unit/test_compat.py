from __future__ import annotations

import json

import pytest

from bakeguard.compat import ATTEST_OFF, STRICTNESS, Compat, apply, detect, parse
from bakeguard.definition import Definition
from bakeguard.errors import UsageError
from bakeguard.split.plan import make_plan


def test_parse_hosts_and_default() -> None:
    c = parse("reg.example:5000=docker-v2,ghcr.io=no-attestations")
    assert c.hosts == {"reg.example:5000": "docker-v2", "ghcr.io": "no-attestations"}
    assert c.for_host("ghcr.io") == "no-attestations" and c.for_host("quay.io") is None
    assert parse("docker-v2").for_host("anything") == "docker-v2"
    assert parse("localhost:5100=docker-v2").for_host("127.0.0.1:5100") == "docker-v2"
    assert parse("") == Compat() and parse(None).empty


def test_bad_profile_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as e:
        parse("reg=oci-ish")
    assert (
        "docker-v2, no-attestations, no-oci-artifact, oci" in e.value.message()
        and e.value.exit_code == 2
    )


def test_apply_docker_v2_and_no_attestations() -> None:
    raw = {"output": [{"type": "image", "push": "true"}, "type=local,dest=x"], "tags": ["r/a:1"]}
    v2 = apply(raw, "docker-v2")
    assert v2["attest"] == ATTEST_OFF
    assert "oci-mediatypes=false" in v2["output"][0] and v2["output"][1] == "type=local,dest=x"
    na = apply(raw, "no-attestations")
    assert na["attest"] == ATTEST_OFF and na["output"] == raw["output"]
    assert apply(raw, "oci") == raw and apply(raw, None) == raw


def two_registries() -> Definition:
    return Definition.parse(
        json.dumps(
            {
                "target": {
                    "picky": {
                        "tags": ["picky.example/o/a:1"],
                        "platforms": ["linux/amd64", "linux/arm64"],
                        "output": ["type=registry"],
                    },
                    "plain": {
                        "tags": ["localhost:5000/o/b:1"],
                        "platforms": ["linux/amd64", "linux/arm64"],
                        "output": ["type=registry"],
                    },
                }
            }
        )
    )


def test_profile_applies_only_to_targets_pushing_there() -> None:
    c = parse("picky.example=no-attestations")
    plan = make_plan(two_registries(), True, "-{os}-{arch}{variant}", per_platform=False, compat=c)
    gen = plan.definition["target"]
    assert gen["picky"]["attest"] == ATTEST_OFF and "attest" not in gen["plain"]
    plan = make_plan(
        two_registries(), True, "-{os}-{arch}{variant}", compat=parse("picky.example=docker-v2")
    )
    gen = plan.definition["target"]
    assert "oci-mediatypes=false" in gen["picky-linux-arm64"]["output"][0]
    assert gen["picky-linux-arm64"]["attest"] == ATTEST_OFF
    assert "attest" not in gen["plain-linux-arm64"]


@pytest.mark.parametrize(
    ("text", "profile"),
    [
        (
            "ERROR: failed to push picky.example/o/a:1: manifest invalid: attestation manifests "
            "(unknown/unknown) are not accepted",
            "no-attestations",
        ),
        (
            "ERROR: failed to solve: failed to push picky.example/o/a:1: unexpected status "
            "from PUT request: 400 Bad Request: MANIFEST_INVALID: manifest invalid: media type "
            "application/vnd.oci.image.index.v1+json is not supported",
            "docker-v2",
        ),
        (
            'error: failed commit on ref "manifest-sha256:abc": unexpected status: 400 Bad Request',
            "docker-v2",
        ),
    ],
)
def test_detect_known_rejections(text: str, profile: str) -> None:
    found = detect(text, ["picky.example"])
    assert found is not None and (found.host, found.profile) == ("picky.example", profile)


def test_detect_ignores_progress_and_unrelated_errors() -> None:
    progress = "#6 exporting attestation manifest sha256:abc done\n#6 DONE 0.1s\n"
    assert detect(progress, ["r"]) is None
    assert detect("ERROR: failed to solve: process did not complete successfully", ["r"]) is None
    # two pushing hosts and the line names neither: no guess
    assert detect("ERROR: manifest invalid", ["a.example", "b.example"]) is None
    found = detect(
        "\x1b[31mERROR: manifest invalid for b.example/x\x1b[0m", ["a.example", "b.example"]
    )
    assert found is not None and (found.host, found.profile) == ("b.example", "docker-v2")


def test_detect_ignores_the_engines_second_push() -> None:
    """buildx < 0.22's push "with docker" fails through the daemon after BuildKit's push
    succeeded (buildx#3070): no profile changes that, so nothing is retried or advised."""
    engine = (
        "#12 pushing localhost:5001/o/a:1 with docker\n"
        "ERROR: Error response from daemon: manifest unknown: OCI index found, but accept "
        "header does not support OCI indexes\n"
    )
    assert detect(engine, ["localhost:5001"]) is None
    # Debian's 0.13.1 says it as the step's own error and after bake's summary of the step
    debian = (
        "#6 pushing manifest for localhost:5001/o/a:1@sha256:ab 0.0s done\n"
        "#7 pushing localhost:5001/o/a:1 with docker\n"
        "#7 pushing layer 66b06ce9c8ad 1.0s done\n"
        "#7 ERROR: error from registry: manifest unknown: OCI index found, but accept header "
        "does not support OCI indexes\n"
        "------\n > pushing localhost:5001/o/a:1 with docker:\n------\n"
        "ERROR: error from registry: manifest unknown: OCI index found, but accept header "
        "does not support OCI indexes\n"
    )
    assert detect(debian, ["localhost:5001"]) is None
    # BuildKit's own rejection, in the same output shape, still counts
    own = (
        "#6 ERROR: failed to push localhost:5001/o/a:1: manifest invalid: media type "
        "application/vnd.oci.image.index.v1+json is not supported\n"
        "------\n > exporting to image:\n------\n"
        "ERROR: failed to solve: failed to push localhost:5001/o/a:1: manifest invalid\n"
    )
    found = detect(own, ["localhost:5001"])
    assert found is not None and found.profile == "docker-v2"


# ------------------------------------------------ no-oci-artifact (issue #26)

# the registries' refusals of BuildKit >= 0.32's OCI-artifact attestations, as bake prints
# them (GitLab's and Aliyun's as BuildKit v0.34.2 printed a front answering in their words;
# ECR's as containerd words a 405)
GITLAB = (
    "#6 ERROR: failed to push picky.example/o/a:1: unknown: blob unknown to registry - "
    "sha256:8c1ef4d93d8950efed7e515c9d1a24801f41537a1fbb7af8dd5b58857df04c6b\n"
    "------\n > exporting to image:\n------\n"
    "ERROR: failed to solve: failed to push picky.example/o/a:1: unknown: blob unknown to "
    "registry - sha256:8c1ef4d93d8950efed7e515c9d1a24801f41537a1fbb7af8dd5b58857df04c6b\n"
)
ALIYUN = (
    "ERROR: failed to solve: failed to push picky.example/o/a:1: denied: unknown manifest "
    "class for application/vnd.oci.empty.v1+json\n"
)
ECR = (
    "ERROR: failed to solve: failed to push picky.example/o/a:1: unexpected status from PUT "
    "request to https://picky.example/v2/o/a/manifests/sha256:ab: 405 Method Not Allowed\n"
)


@pytest.mark.parametrize("text", [GITLAB, ALIYUN, ECR])
def test_detect_registries_that_refuse_oci_artifacts(text: str) -> None:
    found = detect(text, ["picky.example"])
    assert found is not None and (found.host, found.profile) == ("picky.example", "no-oci-artifact")
    assert not found.line.startswith(("#", "ERROR"))  # the registry's words, as remembered


def test_the_engines_own_blob_unknown_is_not_an_oci_artifact_refusal() -> None:
    """Engine 29.7's push fails with "blob unknown to registry" too (moby#53293): that is the
    engine's second push (buildx < 0.22, docker driver), which no profile changes."""
    engine = (
        "#7 pushing picky.example/o/a:1 with docker\n"
        "#7 ERROR: error from registry: blob unknown to registry - sha256:ab\n"
        "------\n > pushing picky.example/o/a:1 with docker:\n------\n"
        "ERROR: error from registry: blob unknown to registry - sha256:ab\n"
    )
    assert detect(engine, ["picky.example"]) is None


def test_apply_no_oci_artifact_keeps_attestations() -> None:
    raw = {
        "output": [{"type": "image", "push": "true"}, "type=local,dest=x"],
        "attest": ["type=provenance,mode=max"],
    }
    out = apply(raw, "no-oci-artifact")
    assert out["attest"] == raw["attest"]  # attestations kept: only their form changes
    assert "oci-artifact=false" in out["output"][0] and out["output"][1] == "type=local,dest=x"
    plan = make_plan(
        two_registries(),
        True,
        "-{os}-{arch}{variant}",
        compat=parse("picky.example=no-oci-artifact"),
    )
    gen = plan.definition["target"]
    assert "oci-artifact=false" in gen["picky-linux-arm64"]["output"][0]
    assert "attest" not in gen["picky-linux-arm64"]
    assert "oci-artifact" not in gen["plain-linux-arm64"]["output"][0]


def test_no_oci_artifact_is_the_mildest_profile() -> None:
    """A host given no-attestations (or docker-v2) pushes no attestation at all, so no OCI
    artifact: a "blob unknown" there is not the artifact's, and no retry could help."""
    c = parse("picky.example=no-oci-artifact,other.example=no-attestations")
    assert c.for_host("picky.example") == "no-oci-artifact"
    both = Definition.parse(
        json.dumps(
            {
                "target": {
                    "a": {
                        "tags": ["picky.example/o/a:1", "other.example/o/a:1"],
                        "output": ["type=registry"],
                    }
                }
            }
        )
    )
    assert c.for_target(both.targets["a"]) == "no-attestations"
    assert STRICTNESS["oci"] < STRICTNESS["no-oci-artifact"] < STRICTNESS["no-attestations"]
