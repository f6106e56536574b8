"""What a registry answers, through bakeguard's real entry point (verify-only, and the tags'
state after a failed push) against a canned registry (tests/unit/registry_fake.py): a
malformed answer is exit 3 naming the tag and what is wrong, with the report written; what
is not a platform's image (an artifact, a nested index, an entry of unknown type or without
a platform) verifies no platform; every body is checked against its digest."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.unit.registry_fake import (
    ERRORS,
    OCI_INDEX,
    TARGETS,
    THREE,
    Answer,
    Canned,
    Ground,
    data,
    digest_of,
    doc,
    real_registry,
    tag_answer,
    target_env,
)
from tests.unit.registry_fake import ground as ground  # noqa: PLC0414 (the fixture)

APP, ONE, ANY = (TARGETS[t][0] for t in ("app", "one", "any"))
EMPTY = b"{}"  # the OCI empty descriptor's blob
EMPTY_DESCRIPTOR = {
    "mediaType": "application/vnd.oci.empty.v1+json",
    "digest": digest_of(EMPTY),
    "size": 2,
}


def body(d: Any) -> bytes:
    return json.dumps(d, indent=2).encode()


def index_with(change: Any) -> bytes:
    d = doc("oci-index.json")
    change(d)
    return body(d)


# ---------------------------------------------------------------- what passes today


@pytest.mark.parametrize("name", ["oci-index.json", "docker-list.json"])
def test_a_real_index_with_its_attestations_verifies(ground: Ground, name: str) -> None:
    run = ground.verify("app", real_registry(data(name)))
    assert run.code == 0, run.err
    assert f"verify {APP} (target app): OK, 3/3 platforms" in run.err
    [v] = run.report["verification"]
    assert v["found"] == list(THREE) and not v.get("unverified")
    assert v["digest"] == digest_of(data(name))
    if name == "oci-index.json":  # attestations: never platforms, each about its platform
        assert [a["subject_platform"] for a in v["attestations"]] == list(THREE)


@pytest.mark.parametrize("name", ["oci-manifest.json", "docker-manifest.json"])
def test_a_real_single_manifest_verifies_through_its_config(ground: Ground, name: str) -> None:
    run = ground.verify("one", real_registry(data(name)))
    assert run.code == 0, run.err
    assert f"verify {ONE} (target one): OK, 1/1 platforms (linux/amd64)" in run.err


# ---------------------------------------------------------------- item 5: malformed answers


def _drop(key: str) -> Any:
    return lambda d: d.pop(key)


MALFORMED: dict[str, tuple[Any, str]] = {  # what is wrong: (the change, what the error says)
    "manifests as strings": (
        lambda d: d.update(manifests=["sha256:" + "a" * 64]),
        "manifests[0] is a string, not an object",
    ),
    "manifests as an object": (
        lambda d: d.update(manifests={"a": d["manifests"][0]}),
        "manifests is an object, not a list",
    ),
    "an entry without digest": (
        lambda d: d["manifests"][1].pop("digest"),
        "manifests[1].digest is missing",
    ),
    "platform as a string": (
        lambda d: d["manifests"][0].update(platform="linux/amd64"),
        "manifests[0].platform is a string, not an object",
    ),
    "a size as text": (
        lambda d: d["manifests"][2].update(size="480"),
        "manifests[2].size is a string, not an integer",
    ),
    "a digest that is a path": (
        lambda d: d["manifests"][0].update(digest="sha256:../../../v2/_catalog"),
        "manifests[0].digest is not a valid digest",
    ),
    "a control character in a platform": (
        lambda d: d["manifests"][0]["platform"].update(architecture="amd64\x1b[2J"),
        "manifests[0].platform.architecture holds a control character",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_index_is_exit_3_naming_the_tag_and_the_problem(
    ground: Ground, case: str
) -> None:
    change, said = MALFORMED[case]
    run = ground.verify("app", real_registry(index_with(change)))
    assert run.code == 3, run.err
    assert f"the manifest of {APP} is malformed: {said}" in run.err
    [v] = run.report["verification"]
    assert not v["ok"] and said in v["error"] and v["found"] == []
    assert "\x1b" not in run.err


IMAGE_MALFORMED: dict[str, tuple[Any, str]] = {
    "no config": (_drop("config"), "config is missing"),
    "a string config": (lambda d: d.update(config="sha256:" + "c" * 64), "config is a string"),
    "config without digest": (lambda d: d["config"].pop("digest"), "config.digest is missing"),
    "layers as null": (lambda d: d.update(layers=None), "layers is null"),
    "an index's manifests too": (
        lambda d: d.update(manifests=[]),
        "it is a manifest (application/vnd.oci.image.manifest.v1+json) holding an index's",
    ),
    "schema version 1": (lambda d: d.update(schemaVersion=1), "schemaVersion is not 2"),
}


@pytest.mark.parametrize("case", sorted(IMAGE_MALFORMED))
def test_a_malformed_single_manifest_is_exit_3(ground: Ground, case: str) -> None:
    change, said = IMAGE_MALFORMED[case]
    d = doc("oci-manifest.json")
    change(d)
    run = ground.verify("one", real_registry(body(d)))
    assert run.code == 3, run.err
    assert f"the manifest of {ONE} is malformed: {said}" in run.err
    assert said in run.report["verification"][0]["error"]


@pytest.mark.parametrize(
    ("config", "said"),
    [
        (b"[]", "is malformed: the body is a list, not an object"),
        (b'{"os": "linux", "architecture": 5}', "architecture is a number, not a string"),
        (b'{"os": "linux"}', "architecture is missing"),
    ],
)
def test_a_malformed_config_is_exit_3(ground: Ground, config: bytes, said: str) -> None:
    d = doc("oci-manifest.json")
    d["config"].update(digest=digest_of(config), size=len(config))
    fake = real_registry(body(d))
    fake.blobs[digest_of(config)] = config
    run = ground.verify("one", fake)
    assert run.code == 3, run.err
    assert f"the config {digest_of(config)} of {ONE}" in run.err and said in run.err


@pytest.mark.parametrize(
    "error_body",
    [
        b'{"errors": 5}',
        b'{"errors": {"code": "DENIED"}}',
        b'{"errors": [5]}',
        b'{"errors": [{"code": ["x"], "message": {"m": 1}}]}',
        b"[1, 2]",
        b"null",
        b"<html>proxy login</html>",
    ],
)
@pytest.mark.parametrize("status", [400, 403, 404])
def test_any_error_body_is_a_clean_exit_3(ground: Ground, error_body: bytes, status: int) -> None:
    run = ground.verify("app", Canned(Answer(status, error_body)))
    assert run.code == 3, run.err
    [v] = run.report["verification"]
    assert v["status"] == status and "o/app" in v["error"]


def test_a_registry_s_error_message_reaches_the_log_escaped_and_short(ground: Ground) -> None:
    message = "denied\n::error::verify OK\x1b[2J" + "x" * 500
    error_body = json.dumps({"errors": [{"code": "DENIED", "message": message}]}).encode()
    run = ground.verify("app", Canned(Answer(400, error_body)))
    assert run.code == 3
    line = next(x for x in run.err.splitlines() if "DENIED" in x)
    assert "\\n::error::verify OK\\x1b[2J" in line and len(line) < 400
    assert not any(x.startswith("::error::verify") for x in run.err.splitlines())


@pytest.mark.parametrize("error", ERRORS, ids=[e["what"] for e in ERRORS])
def test_real_error_bodies_say_what_the_registry_said(
    ground: Ground, error: dict[str, Any]
) -> None:
    run = ground.verify("app", Canned(Answer(error["status"], error["body"].encode())))
    assert run.code == 3, run.err
    [v] = run.report["verification"]
    said = {404: "not found", 500: "answered 500"}.get(error["status"])
    assert (said or json.loads(error["body"])["errors"][0]["code"]) in v["error"]


def test_a_failed_push_reads_a_malformed_tag_as_unreadable(ground: Ground) -> None:
    """After a failed bake, what each tag holds is read from the registry (tagstate): a
    malformed answer there is the tag's state, not a traceback; bake's exit code stays."""
    fake = real_registry(index_with(lambda d: d.update(manifests="all")))
    run = ground.run(["--push", "app"], fake, {"FUZZ_BAKE_EXIT": "17", **target_env(ground, "app")})
    assert run.code == 17, run.err  # the fake bake's failure
    [tag] = run.report["tags"]
    assert tag["state"] == "unreadable" and "manifests is a string" in tag["error"]


# ---------------------------------------------------------------- item 6: believing too much


def artifact(**extra: Any) -> bytes:
    """An OCI 1.1 artifact manifest (image-spec manifest.md's example): the empty config,
    one blob."""
    return body(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": EMPTY_DESCRIPTOR,
            "layers": [
                {
                    "mediaType": "application/vnd.example.sbom+json",
                    "digest": digest_of(b"sbom"),
                    "size": 4,
                }
            ],
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("manifest", "why"),
    [
        (
            artifact(artifactType="application/vnd.example.sbom"),
            "an OCI artifact (artifactType application/vnd.example.sbom)",
        ),
        (artifact(), "an OCI artifact (its config is the empty descriptor)"),
    ],
)
def test_an_artifact_at_the_tag_verifies_no_platform(
    ground: Ground, manifest: bytes, why: str
) -> None:
    """(Before: "OK, 1/1 platforms ()", the empty config read as a platform named "".)"""
    fake = real_registry(manifest)
    fake.blobs[digest_of(EMPTY)] = EMPTY
    run = ground.verify("any", fake)
    assert run.code == 3, run.err
    assert f"not verified as a platform: {digest_of(manifest)[:19]}: {why}" in run.err
    [v] = run.report["verification"]
    assert v["found"] == [] and v["platform_manifests"] == []
    assert v["unverified"] == [
        {"digest": digest_of(manifest), "media_type": v["media_type"], "platform": None, "why": why}
    ]
    assert not any("/blobs/" in path for _, path in fake.seen)  # no config read as a platform


def replace_arm64(**entry: Any) -> Any:
    return lambda d: d["manifests"][1].update(entry)


NOT_A_PLATFORM = {
    "an unknown media type": (
        replace_arm64(mediaType="application/vnd.example.thing+json"),
        "an entry of unknown media type application/vnd.example.thing+json",
    ),
    "a nested index": (replace_arm64(mediaType=OCI_INDEX), "an index nested in the index"),
    "an artifact": (
        replace_arm64(artifactType="application/vnd.example.sig"),
        "an OCI artifact (artifactType application/vnd.example.sig)",
    ),
}


@pytest.mark.parametrize("case", sorted(NOT_A_PLATFORM))
def test_an_entry_that_is_not_a_platform_s_image_is_not_that_platform(
    ground: Ground, case: str
) -> None:
    """An index whose arm64 entry is something else: arm64 is missing, and the entry named."""
    change, why = NOT_A_PLATFORM[case]
    tag = index_with(change)
    run = ground.verify("app", real_registry(tag))
    assert run.code == 3, run.err
    assert "missing: linux/arm64" in run.err
    arm64 = doc("oci-index.json")["manifests"][1]["digest"]
    assert f"not verified as a platform: {arm64[:19]} (linux/arm64): {why}" in run.err
    [v] = run.report["verification"]
    assert v["found"] == ["linux/amd64", "linux/arm/v7"]
    assert [(u["digest"], u["why"]) for u in v["unverified"]] == [(arm64, why)]


def test_an_entry_without_a_platform_is_no_platform(ground: Ground) -> None:
    """(Before: read as a platform named "", which a target without platforms accepted.)"""

    def only_platformless(d: Any) -> None:
        d["manifests"] = d["manifests"][:1]
        del d["manifests"][0]["platform"]

    run = ground.verify("any", real_registry(index_with(only_platformless)))
    assert run.code == 3, run.err
    assert "an entry without a platform" in run.err and "found: nothing" in run.err


def test_an_extra_entry_that_is_not_a_platform_is_named_beside_an_ok(ground: Ground) -> None:
    def add(d: Any) -> None:
        extra = copy.deepcopy(d["manifests"][0])
        del extra["platform"]
        d["manifests"].append(extra)

    run = ground.verify("app", real_registry(index_with(add)))
    assert run.code == 0, run.err
    assert "OK, 3/3 platforms (linux/amd64, linux/arm64, linux/arm/v7)" in run.err
    assert "an entry without a platform" in run.err
    [v] = run.report["verification"]
    assert v["found"] == list(THREE) and len(v["unverified"]) == 1


def test_a_body_that_does_not_hash_to_the_announced_digest_is_exit_3(ground: Ground) -> None:
    """(Before: Docker-Content-Digest was the tag's digest, whatever the body.)"""
    real, other = data("oci-index.json"), data("docker-list.json")
    fake = real_registry(real)
    fake.tag = tag_answer(real, digest=digest_of(other))
    run = ground.verify("app", fake)
    assert run.code == 3, run.err
    said = f"hashes to {digest_of(real)}, not to the {digest_of(other)} digest it announced"
    assert said in run.err and said in run.report["verification"][0]["error"]


def test_an_index_naming_itself_as_a_child_cannot_pass(ground: Ground) -> None:
    """A nested index that names the digest the registry announced for the tag: the body
    cannot hash to a digest it holds, so the announcement is false (exit 3)."""
    claimed = "sha256:" + "1" * 64
    tag = index_with(replace_arm64(mediaType=OCI_INDEX, digest=claimed))
    fake = real_registry(tag)
    fake.tag = tag_answer(tag, digest=claimed)
    fake.manifests[claimed] = tag
    run = ground.verify("app", fake)
    assert run.code == 3 and f"not to the {claimed} digest it announced" in run.err


def test_a_config_blob_that_does_not_hash_to_its_digest_is_exit_3(ground: Ground) -> None:
    """(Before: any JSON served for the config digest named the platform.)"""
    fake = real_registry(data("oci-manifest.json"))
    config = doc("oci-manifest.json")["config"]["digest"]
    fake.blobs[config] = data("oci-config.json").replace(b'"amd64"', b'"arm64"')
    run = ground.verify("any", fake)
    assert run.code == 3, run.err
    assert f"the config {config} of {ANY} it sent hashes to sha256:" in run.err


def test_a_5000_entry_index_is_a_short_line_and_a_whole_report(ground: Ground) -> None:
    def many(d: Any) -> None:
        for i in range(4997):
            entry = copy.deepcopy(d["manifests"][0])
            entry["platform"] = {"os": "linux", "architecture": f"arch{i}"}
            d["manifests"].append(entry)

    run = ground.verify("app", real_registry(index_with(many)))
    assert run.code == 0, run.err
    line = next(x for x in run.err.splitlines() if f"verify {APP}" in x)
    assert (
        "OK, 3/3 platforms (linux/amd64, linux/arm64, linux/arm/v7, linux/arch0 and 4996 more)"
        in line
    )
    assert len(run.err) < 1000
    [v] = run.report["verification"]
    assert len(v["found"]) == 5000 and len(v["extra"]) == 4997
