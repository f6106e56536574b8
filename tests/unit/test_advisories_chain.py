"""Advisories past the buildx plugin (issue #26): BuildKit's and the engine's versions as
conditions, each new advisory's condition and citation, and the facts they rest on (the
docker driver's BuildKit from its engine, buildx's default provenance, the OCI-artifact
escape hatches)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from bakeguard import guard
from bakeguard.advisories import load
from bakeguard.bakeargs import parse_bake
from bakeguard.definition import Definition
from bakeguard.errors import UsageError
from bakeguard.matching import Facts, Match, match
from bakeguard.probe import Builder, EngineInfo, Environment, Node
from bakeguard.versions import parse_buildx_version

TABLE = {a.id: a for a in load({"BAKEGUARD_PROBE_TTL": "0"})}
OCI = "buildkit-oci-artifact-attestations"
ENGINE = "engine-29.7-push-blob-unknown"


def found(aid: str, facts: Facts) -> Match | None:
    return next(iter(match([TABLE[aid]], facts)), None)


def outcome(m: Match | None) -> bool | None:
    """True: applies; None: cannot tell; False: does not apply."""
    return False if m is None else (True if m.certain else None)


# ----------------------------------------------------------------- citations


@pytest.mark.parametrize(
    ("aid", "affected", "fixed", "cited", "confidence"),
    [
        (
            OCI,
            ">=0.10.0",
            "",
            [
                "https://github.com/moby/buildkit/pull/6914",
                "https://github.com/moby/buildkit/issues/7007",
                "https://github.com/moby/buildkit/issues/5747",
                "https://github.com/docker/buildx/pull/3991",
            ],
            "confirmed",
        ),
        (
            ENGINE,
            "<0.22.0,>=0.9.0",
            "0.22.0",
            ["https://github.com/moby/moby/issues/53293"],
            "reported",
        ),
        (
            "imagetools-no-content-length-0.25",
            "==0.25.0",
            "0.26.0",
            [
                "https://github.com/docker/buildx/issues/3311",
                "https://github.com/docker/buildx/pull/3316",
            ],
            "reported",
        ),
        (
            "imagetools-concurrent-map-write-0.30",
            "==0.30.0",
            "0.30.1",
            [
                "https://github.com/docker/buildx/issues/3503",
                "https://github.com/docker/buildx/pull/3524",
            ],
            "confirmed",
        ),
        (
            "multinode-partial-tag",
            "<0.37.1,>=0.37.0",
            "0.37.1",
            ["https://github.com/docker/buildx/pull/4058"],
            "confirmed",  # (raised: checked in v0.37.0's build/build.go)
        ),
    ],
)
def test_each_new_advisory_is_cited(
    aid: str, affected: str, fixed: str, cited: list[str], confidence: str
) -> None:
    a = TABLE[aid]
    assert str(a.affected) == affected and a.fixed == fixed and a.confidence == confidence
    assert set(cited) <= set(a.references)


def test_the_oci_artifact_advisory_names_both_escapes_and_the_registries_words() -> None:
    a = TABLE[OCI]
    assert a.when["buildkit"] == ">=0.32.0" and a.mitigation == "compat"
    assert "oci-artifact=false" in a.fix and "BUILDX_NO_DEFAULT_OCI_ARTIFACT=1" in a.fix
    assert "buildx >= 0.36.1" in a.fix and "no-oci-artifact" in a.fix
    for words in ("blob unknown to registry", "application/vnd.oci.empty.v1+json", "405"):
        assert words in a.symptom


# ----------------------------------------------------------------- conditions

REMOTE: dict[str, Any] = {
    "driver": "remote",
    "nodes": 1,
    "buildkit": (Version("0.34.2"),),
    "push": True,
    "max_platforms": 2,
    "outputs": (),
    "attestations": True,
    "oci_artifact_default": True,
}


@pytest.mark.parametrize(
    ("change", "hit", "unknown"),
    [
        ({}, True, ()),
        ({"buildkit": (Version("0.32.0"),)}, True, ()),
        ({"buildkit": (Version("0.31.2"),)}, False, ()),
        ({"buildkit": (None,)}, None, ("buildkit",)),
        ({"buildkit": (Version("0.31.2"), Version("0.32.2"))}, True, ()),  # any node
        ({"buildkit": (None, Version("0.32.2"))}, True, ()),  # one known node is enough
        ({"buildkit": (None, Version("0.31.2"))}, None, ("buildkit",)),
        ({"attestations": False}, False, ()),
        ({"attestations": None}, None, ("attestations",)),
        ({"oci_artifact_default": False}, False, ()),  # oci-artifact set, or the env escape
        ({"push": False}, False, ()),
    ],
)
def test_the_oci_artifact_advisory_conditions(
    change: dict[str, Any], hit: bool | None, unknown: tuple[str, ...]
) -> None:
    m = found(OCI, Facts(Version("0.38.2"), **{**REMOTE, **change}))
    assert outcome(m) is hit
    assert m is None or m.unknown == unknown


DOCKER_29_7: dict[str, Any] = {
    "driver": "docker",
    "containerd_store": True,
    "nodes": 1,
    "push": True,
    "max_platforms": 1,
    "outputs": (),
    "engine": Version("29.7.1"),
}


@pytest.mark.parametrize(
    ("buildx", "change", "hit"),
    [
        ("0.21.1", {}, True),
        ("0.21.1", {"engine": Version("29.7.0")}, True),
        ("0.21.1", {"engine": Version("29.7.2")}, True),
        ("0.21.1", {"engine": Version("29.7.2+dfsg1")}, True),
        ("0.21.1", {"engine": Version("29.6.2")}, False),
        ("0.21.1", {"engine": Version("29.7.3")}, False),
        ("0.21.1", {"engine": None}, None),  # cannot tell, never "safe"
        ("0.22.0", {}, False),  # BuildKit pushes; the engine's push never runs
        ("0.13.1", {"containerd_store": False}, False),
        ("0.13.1", {"driver": "docker-container"}, False),
        ("0.13.1", {"push": False}, False),
    ],
)
def test_the_engine_advisory_conditions(
    buildx: str, change: dict[str, Any], hit: bool | None
) -> None:
    m = found(ENGINE, Facts(Version(buildx), **{**DOCKER_29_7, **change}))
    assert outcome(m) is hit
    if hit is None:
        assert m is not None and m.unknown == ("engine",)


@pytest.mark.parametrize(
    ("aid", "buildx", "imagetools", "hit"),
    [
        ("imagetools-no-content-length-0.25", "0.25.0", True, True),
        ("imagetools-no-content-length-0.25", "0.25.0", False, False),
        ("imagetools-no-content-length-0.25", "0.24.0", True, False),
        ("imagetools-no-content-length-0.25", "0.26.0", True, False),
        ("imagetools-concurrent-map-write-0.30", "0.30.0", True, True),
        ("imagetools-concurrent-map-write-0.30", "0.30.0", False, False),
        ("imagetools-concurrent-map-write-0.30", "0.30.1", True, False),
        ("imagetools-concurrent-map-write-0.30", "0.29.1", True, False),
    ],
)
def test_the_imagetools_advisories_conditions(
    aid: str, buildx: str, imagetools: bool, hit: bool
) -> None:
    assert (found(aid, Facts(Version(buildx), push=True, imagetools=imagetools)) is not None) is hit


@pytest.mark.parametrize(
    ("when", "needle"),
    [
        ("engine = 29\n", "condition `engine` must be a PEP 440 specifier string"),
        ("engine = '>>29'\n", "bad `engine` condition"),
        (
            "oci_artifact_default = 'yes'\n",
            "condition `oci_artifact_default` must be true or false",
        ),
    ],
)
def test_a_bad_engine_or_oci_artifact_condition_is_a_usage_error(
    tmp_path: Path, when: str, needle: str
) -> None:
    f = tmp_path / "corp.toml"
    f.write_text(
        "[[advisory]]\nid = 'corp-1'\ntitle = 't'\naffected = '>=0.1'\nmitigation = 'verify'\n"
        f"symptom = 's'\nfix = 'f'\nreferences = ['https://x']\n[advisory.when]\n{when}"
    )
    with pytest.raises(UsageError) as e:
        load({"BAKEGUARD_ADVISORIES": str(f), "BAKEGUARD_PROBE_TTL": "0"})
    assert needle in e.value.message() and e.value.exit_code == 2


def test_a_user_advisory_may_condition_on_the_engine_and_buildkit(tmp_path: Path) -> None:
    f = tmp_path / "corp.toml"
    f.write_text(
        "[[advisory]]\nid = 'corp-engine'\ntitle = 't'\naffected = '>=0.1'\n"
        "mitigation = 'verify'\nsymptom = 's'\nfix = 'f'\nreferences = ['https://x']\n"
        "[advisory.when]\nengine = '>=28.5,<29'\nbuildkit = '==0.25.2'\n"
    )
    (adv,) = [
        a
        for a in load({"BAKEGUARD_ADVISORIES": str(f), "BAKEGUARD_PROBE_TTL": "0"})
        if a.id == "corp-engine"
    ]
    lab = env("docker", "v0.0.0+unknown", "28.5.2+dfsg4")  # the test ground's engine
    assert [m.certain for m in match([adv], facts(lab, []))] == [True]


# ----------------------------------------------------------------- the facts


def env(
    driver: str,
    reported: str | None,
    engine: str | None,
    buildx: str = "v0.38.2",
    store: bool | None = True,
) -> Environment:
    node = Node("n0", "x", "running", reported, ("linux/amd64",))
    return Environment(
        parse_buildx_version(f"github.com/docker/buildx {buildx} abc"),
        Builder("b", driver, (node,)),
        EngineInfo(store, version=engine),
    )


def facts(
    e: Environment,
    outputs: list[str],
    attest: list[str] | None = None,
    environ: dict[str, str] | None = None,
) -> Facts:
    target: dict[str, Any] = {
        "tags": ["reg.example/o/a:1"],
        "platforms": ["linux/amd64", "linux/arm64"],
        "output": outputs or ["type=registry"],
    }
    if attest is not None:
        target["attest"] = attest
    defn = Definition.parse(json.dumps({"target": {"a": target}}))
    return guard.facts(
        e, defn, parse_bake(["--push"]), environ=environ or {}, cwd=Path("/nonexistent")
    )


def ids(f: Facts) -> dict[str, bool]:
    return {m.advisory.id: m.certain for m in match(list(TABLE.values()), f)}


def test_the_docker_driver_s_buildkit_comes_from_its_engine() -> None:
    """On the docker driver the node says v0.0.0+unknown: an engine 29.7.1 builds in BuildKit
    v0.32.0, so the OCI-artifact advisory applies (before: "cannot tell")."""
    f = facts(env("docker", "v0.0.0+unknown", "29.7.1"), [])
    assert f.buildkit == (Version("0.32.0"),) and f.engine == Version("29.7.1")
    assert ids(f)[OCI] is True
    older = facts(env("docker", "v0.0.0+unknown", "28.5.2+dfsg4"), [])
    assert older.buildkit == (Version("0.25.2"),) and OCI not in ids(older)
    unknown = facts(env("docker", "v0.0.0+unknown", None), [])
    assert unknown.buildkit == (None,) and ids(unknown)[OCI] is False  # (certain: no)


def test_engine_29_7_with_an_old_buildx_on_the_docker_driver() -> None:
    f = facts(env("docker", "v0.0.0+unknown", "29.7.2", buildx="v0.21.1"), [])
    assert ids(f)[ENGINE] is True
    assert ENGINE not in ids(facts(env("docker", "v0.0.0+unknown", "29.7.2", buildx="v0.22.0"), []))


@pytest.mark.parametrize(
    ("driver", "store", "buildx", "environ", "attest", "want"),
    [
        ("remote", None, "v0.38.2", {}, None, True),  # buildx's default provenance
        ("remote", None, "v0.38.2", {"BUILDX_NO_DEFAULT_ATTESTATIONS": "1"}, None, False),
        ("remote", None, "v0.38.2", {"BUILDX_NO_DEFAULT_ATTESTATIONS": "false"}, None, True),
        ("remote", None, "v0.38.2", {"BUILDX_NO_DEFAULT_ATTESTATIONS": "yes"}, None, None),
        ("remote", None, "v0.10.5", {"BUILDX_NO_DEFAULT_ATTESTATIONS": "1"}, None, True),  # unread
        ("remote", None, "v0.9.1", {}, None, False),
        ("docker", True, "v0.38.2", {}, None, True),
        ("docker", False, "v0.38.2", {}, None, False),  # the classic store holds none
        ("docker", None, "v0.38.2", {}, None, None),
        ("remote", None, "v0.38.2", {}, ["type=provenance,disabled=true"], False),
        ("remote", None, "v0.38.2", {"BUILDX_NO_DEFAULT_ATTESTATIONS": "1"}, ["type=sbom"], True),
    ],
)
def test_attestations_as_buildx_adds_them(
    driver: str,
    store: bool | None,
    buildx: str,
    environ: dict[str, str],
    attest: list[str] | None,
    want: bool | None,
) -> None:
    e = env(driver, "v0.34.2", "28.5.2", buildx=buildx, store=store)
    assert facts(e, [], attest, environ).attestations is want


@pytest.mark.parametrize(
    ("outputs", "buildx", "environ", "want"),
    [
        (["type=registry"], "v0.38.2", {}, True),
        (["type=registry,oci-artifact=false"], "v0.38.2", {}, False),
        (["type=image,push=true,oci-artifact=true"], "v0.38.2", {}, False),  # asked for
        (["type=registry"], "v0.38.2", {"BUILDX_NO_DEFAULT_OCI_ARTIFACT": "1"}, False),
        (["type=registry"], "v0.36.1", {"BUILDX_NO_DEFAULT_OCI_ARTIFACT": "true"}, False),
        (["type=registry"], "v0.36.0", {"BUILDX_NO_DEFAULT_OCI_ARTIFACT": "1"}, True),  # unread
        (["type=registry"], "v0.38.2", {"BUILDX_NO_DEFAULT_OCI_ARTIFACT": "0"}, True),
        (["type=registry"], "deadbeef", {"BUILDX_NO_DEFAULT_OCI_ARTIFACT": "1"}, None),
    ],
)
def test_the_oci_artifact_escapes(
    outputs: list[str], buildx: str, environ: dict[str, str], want: bool | None
) -> None:
    e = env("remote", "v0.34.2", None, buildx=buildx)
    assert facts(e, outputs, environ=environ).oci_artifact_default is want
