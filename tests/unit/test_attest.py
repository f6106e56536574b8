"""Attestations verified per platform: predicate types read and matched to kinds, the subject
from the index entry or (BuildKit's OCI artifact format) from the manifest, the kinds a push
carries (its attest, buildx's default provenance, a profile that drops them), and the whole
of it through bakeguard's entry point against a canned registry (tests/unit/registry_fake)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bakeguard import attestations
from bakeguard.compat import Compat
from bakeguard.definition import Definition, Target
from bakeguard.probe import Builder, EngineInfo, Environment, Node
from bakeguard.refs import Reference
from bakeguard.registry.attest import Wanted, check, kind_of, predicate_types
from bakeguard.registry.entries import children
from bakeguard.registry.manifests import ImageManifest, Index
from bakeguard.registry.wire import read_manifest
from bakeguard.versions import parse_buildx_version
from tests.unit.registry_fake import (
    HOST,
    THREE,
    Canned,
    Ground,
    data,
    digest_of,
    doc,
    real_registry,
    tag_answer,
)
from tests.unit.registry_fake import ground as ground  # noqa: PLC0414 (the fixture)

SLSA02, SLSA1, SPDX = (
    "https://slsa.dev/provenance/v0.2",
    "https://slsa.dev/provenance/v1",
    "https://spdx.dev/Document",
)
REF = Reference.parse(f"{HOST}/o/app:v1")
ARTIFACT = "application/vnd.docker.attestation.manifest.v1+json"
EMPTY = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest_of(b"{}"), "size": 2}


def statement(predicate: str, n: int = 0) -> dict[str, Any]:
    blob = f"{predicate} {n}".encode()
    return {
        "mediaType": "application/vnd.in-toto+json",
        "digest": digest_of(blob),
        "size": len(blob),
        "annotations": {"in-toto.io/predicate-type": predicate},
    }


def attestation(
    predicates: list[str], subject: dict[str, Any] | None = None, salt: int = 0
) -> bytes:
    """An attestation manifest (`salt`: of its own statements); with `subject`, in
    BuildKit's OCI artifact format."""
    m: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": doc("oci-attestation.json")["config"],
        "layers": [statement(p, 10 * salt + i) for i, p in enumerate(predicates)],
    }
    if subject is not None:
        m.update(artifactType=ARTIFACT, config=EMPTY, subject=subject)
    return json.dumps(m).encode()


def parse(body: bytes) -> ImageManifest:
    m = read_manifest(REF, body, "", "").doc
    assert isinstance(m, ImageManifest)
    return m


def registry_of(
    predicates: Callable[[int], list[str]],
    artifact: bool = False,
    drop: int | None = None,
    bare: bool = False,
) -> Canned:
    """The stack's 3-platform index with attestation manifests of our own: platform i's
    states `predicates(i)`; `artifact`: the OCI artifact format, its index entries without
    the subject annotation (`bare`: an entry naming only its artifactType); `drop`:
    platform i's attestation left out of the index."""
    index = doc("oci-index.json")
    plats = [e for e in index["manifests"] if e["platform"]["os"] != "unknown"]
    reg = real_registry(b"")
    entries = list(plats)
    for i, p in enumerate(plats):
        subject = {k: p[k] for k in ("mediaType", "digest", "size")}
        body = attestation(predicates(i), subject if artifact else None, i)
        reg.manifests[digest_of(body)] = body
        notes = {"vnd.docker.reference.type": "attestation-manifest"}
        if not artifact:
            notes["vnd.docker.reference.digest"] = p["digest"]
        entry = {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest_of(body),
            "size": len(body),
            "annotations": notes,
            "platform": {"architecture": "unknown", "os": "unknown"},
        }
        if bare:
            for k in ("annotations", "platform"):
                del entry[k]
            entry["artifactType"] = ARTIFACT
        if i != drop:
            entries.append(entry)
    index["manifests"] = entries
    reg.tag = tag_answer(json.dumps(index).encode())
    return reg


# ---------------------------------------------------------------- parsing and matching


@pytest.mark.parametrize(
    ("predicate", "kind"),
    [
        (SLSA02, "provenance"),
        (SLSA1, "provenance"),
        (SPDX, "sbom"),
        ("https://spdx.dev/Document/v2.3", "sbom"),
        ("https://cyclonedx.org/bom/v1.5", "sbom"),
        ("https://spdx.dev/Documentation", None),
        ("https://slsa.dev/provenance", None),
        ("https://in-toto.io/attestation/vulns/v0.1", None),
    ],
)
def test_a_predicate_type_is_its_kind(predicate: str, kind: str | None) -> None:
    assert kind_of(predicate) == kind


def test_the_stack_s_attestation_manifest_states_slsa_provenance() -> None:
    m = parse(data("oci-attestation.json"))
    assert predicate_types(m) == (SLSA02,) and m.subject is None


def test_the_oci_artifact_format_s_subject_is_read_and_checked() -> None:
    subject = doc("oci-index.json")["manifests"][0]
    m = parse(attestation([SLSA1], {k: subject[k] for k in ("mediaType", "digest", "size")}))
    assert m.subject is not None and m.subject.digest == subject["digest"]
    assert m.artifact_type == ARTIFACT
    with pytest.raises(Exception, match=r"subject\.digest"):
        parse(attestation([SLSA1], {"mediaType": "x/y", "digest": "sha256:no", "size": 1}))


def test_a_predicate_type_with_a_control_character_is_escaped() -> None:
    m = parse(attestation(["https://slsa.dev/provenance/v1\x1b[2J"]))
    assert predicate_types(m) == ("https://slsa.dev/provenance/v1\\x1b[2J",)


def matched(reg: Canned, wanted: tuple[str, ...], expected: tuple[str, ...] = THREE) -> Any:
    index = read_manifest(REF, reg.tag.body, "", "")
    assert isinstance(index.doc, Index)
    kids = children(index.doc, index.digest)
    manifests = {
        a.digest: parse(reg.manifests[a.digest]) if a.digest in reg.manifests else None
        for a in kids.attestations
    }
    return check(Wanted(wanted), kids.platforms, expected, kids.attestations, manifests)


@pytest.mark.parametrize(
    ("artifact", "bare"),
    [(False, False), (True, False), (True, True)],
    ids=["annotation", "oci-artifact", "artifact-type-only"],
)
def test_each_platform_s_kinds_from_its_own_attestation(artifact: bool, bare: bool) -> None:
    reg = registry_of(lambda i: [SLSA1, SPDX] if i else [SLSA1], artifact, bare=bare)
    c = matched(reg, ("sbom",))
    assert [(a.platform, a.kinds) for a in c.found] == [
        ("linux/amd64", ("provenance",)),
        ("linux/arm64", ("provenance", "sbom")),
        ("linux/arm/v7", ("provenance", "sbom")),
    ]
    assert [(x.platform, x.kind) for x in c.lacking] == [("linux/amd64", "sbom")]
    assert not c.ok


def test_a_dropped_or_unresolvable_attestation_is_a_platform_lacking_its_kinds() -> None:
    c = matched(registry_of(lambda _i: [SLSA02], drop=1), ("provenance",))
    assert [(x.platform, x.kind) for x in c.lacking] == [("linux/arm64", "provenance")]
    reg = registry_of(lambda _i: [SLSA02])
    del reg.manifests[json.loads(reg.tag.body)["manifests"][-1]["digest"]]  # (linux/arm/v7's)
    assert [x.platform for x in matched(reg, ("provenance",)).lacking] == ["linux/arm/v7"]
    # only the platforms asked for are checked (a platform the tag lacks is named as missing)
    assert matched(registry_of(lambda _i: [SLSA02], drop=1), ("provenance",), THREE[:1]).ok


# ---------------------------------------------------------------- what a push carries


def target(attest: list[Any] | None = None) -> Target:
    raw: dict[str, Any] = {"tags": ["reg.example/o/a:v1"], "output": ["type=image,push=true"]}
    if attest is not None:
        raw["attest"] = attest
    return Definition.parse(json.dumps({"target": {"a": raw}})).targets["a"]


def env(
    driver: str = "docker-container",
    buildx: str = "v0.38.2",
    store: bool | None = True,
    buildkit: str = "v0.34.2",
) -> Environment:
    node = Node("n0", "unix:///x", "running", buildkit, ("linux/amd64",))
    return Environment(
        parse_buildx_version(f"github.com/docker/buildx {buildx} x"),
        Builder("b", driver, (node,)),
        EngineInfo(store),
    )


@pytest.mark.parametrize(
    ("attest", "kinds", "names_provenance"),
    [
        ([{"type": "sbom"}, {"mode": "max", "type": "provenance"}], ("provenance", "sbom"), True),
        ([{"disabled": True, "type": "provenance"}], (), True),
        (["type=sbom,disabled=false", "type=provenance,mode=max"], ("provenance", "sbom"), True),
        (["type=provenance,disabled=true"], (), True),
        ([{"type": "sbom", "disabled": "false"}], ("sbom",), False),
        (None, (), False),
    ],
)
def test_what_the_printed_attest_asks(
    attest: list[Any] | None, kinds: tuple[str, ...], names_provenance: bool
) -> None:
    """As buildx v0.13.1 (CSV strings) and v0.21.1+ (objects) print --sbom/--provenance."""
    assert attestations.asked(target(attest)) == (kinds, names_provenance)


@pytest.mark.parametrize(
    ("environment", "environ", "default"),
    [
        (env(), {}, True),
        (env(driver="remote"), {"BUILDX_NO_DEFAULT_ATTESTATIONS": "1"}, False),
        (env(driver="remote"), {"BUILDX_NO_DEFAULT_ATTESTATIONS": "0"}, True),
        (env(driver="docker", buildkit="v0.0.0+unknown"), {}, True),
        (env(driver="docker", store=False), {}, False),
        (env(driver="docker", store=None), {}, False),
        (env(buildx="v0.9.1"), {}, False),
        (env(buildx="0.10.5"), {"BUILDX_NO_DEFAULT_ATTESTATIONS": "1"}, True),
        (env(buildx="0123456789ab"), {}, False),
        (env(buildkit="v0.10.6"), {}, False),
        (env(driver="cloud"), {}, False),
        (None, {}, False),
    ],
)
def test_buildx_s_default_provenance(
    environment: Environment | None, environ: dict[str, str], default: bool
) -> None:
    assert attestations.default_provenance(environment, environ) is default


def test_the_default_joins_what_is_asked_unless_provenance_is_named() -> None:
    assert attestations.wanted(target([{"type": "sbom"}]), env(), None, {}).kinds == (
        "provenance",
        "sbom",
    )
    off = target([{"type": "provenance", "disabled": True}])
    assert attestations.wanted(off, env(), None, {}) == Wanted()


@pytest.mark.parametrize("profile", ["no-attestations", "docker-v2"])
def test_a_profile_that_drops_attestations_says_so_and_wants_none(profile: str) -> None:
    compat = Compat(hosts={"reg.example": profile})
    w = attestations.wanted(target(), env(), compat, {})
    assert w.kinds == () and w.dropped == f"the {profile} profile pushes without them (provenance)"
    assert attestations.wanted(target(), env(), Compat(hosts={"reg.example": "oci"}), {}).kinds


# ---------------------------------------------------------------- through bakeguard


def provenance_definition(g: Ground, extra: dict[str, Any] | None = None) -> dict[str, str]:
    """The app target, its attestations not turned off (the fake builder is docker-container
    on buildx v0.38.2: buildx's default provenance applies)."""
    d = json.loads((g.path / "def-app.json").read_text())
    d["target"]["app"].pop("attest")
    d["target"]["app"].update(extra or {})
    path = Path(g.path, "def-provenance.json")
    path.write_text(json.dumps(d))
    return {"FUZZ_DEFINITION_PUSH": str(path)}


def attestation_gets(reg: Canned) -> list[str]:
    atts = {d for d, b in reg.manifests.items() if b"in-toto" in b}
    return [p for m, p in reg.seen if m == "GET" and p.rpartition("/")[2] in atts]


def test_provenance_on_every_platform_verifies_with_one_get_each(ground: Ground) -> None:
    reg = registry_of(lambda _i: [SLSA1], artifact=True)
    run = ground.run(["--guard-verify-only", "--push"], reg, provenance_definition(ground))
    assert run.code == 0, run.err
    assert "attestations: provenance on 3/3 platforms" in run.err
    assert len(attestation_gets(reg)) == 3
    [v] = run.report["verification"]
    assert v["attestations_expected"] == ["provenance"] and v["attestations_missing"] == []
    assert [(a["platform"], a["kinds"]) for a in v["attestation_kinds"]] == [
        (p, ["provenance"]) for p in THREE
    ]


def test_a_platform_without_its_attestation_is_exit_3_naming_it_and_the_kind(
    ground: Ground,
) -> None:
    reg = registry_of(lambda i: [SLSA02, SPDX] if i != 2 else [SLSA02], drop=1)
    run = ground.run(
        ["--guard-verify-only", "--push"],
        reg,
        provenance_definition(ground, {"attest": [{"type": "sbom"}]}),
    )
    assert run.code == 3, run.err
    assert f"verify {HOST}/o/app:v1 (target app): FAILED" in run.err
    assert (
        "attestations missing: provenance of linux/arm64, sbom of linux/arm64, "
        "sbom of linux/arm/v7" in run.err
    )
    assert "whatever wrote its index (a merge, a registry) dropped them" in run.err
    [v] = run.report["verification"]
    assert {(m["platform"], m["kind"]) for m in v["attestations_missing"]} == {
        ("linux/arm64", "provenance"),
        ("linux/arm64", "sbom"),
        ("linux/arm/v7", "sbom"),
    }


def test_no_attestation_is_read_when_none_is_wanted(ground: Ground) -> None:
    reg = registry_of(lambda _i: [SLSA1])
    run = ground.verify("app", reg)  # (the canned definition turns provenance off)
    assert run.code == 0, run.err
    assert attestation_gets(reg) == []
    assert run.report["verification"][0]["attestation_kinds"] is None
