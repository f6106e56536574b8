from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeguard.compat import ATTEST_OFF, STRICTNESS, Compat, apply, detect, engine_failure, parse
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


# bake's stderr as recorded on the stack (tests/data/engine-push; the front's host and
# repository renamed localhost:5100/rec): buildx 0.21.1 and Debian's 0.13.1, the docker
# driver with the containerd image store, one target (app) or two (app, web) of two
# platforms each, in --progress=quiet, plain and auto without a terminal.
# engine-*: behind tests/front.py's engine-oci-error mode (the engine's second push fails;
# BuildKit's push was taken). buildkit-*: behind docker-v2-only (BuildKit's push rejected).
ENGINE_PUSH = Path(__file__).resolve().parent.parent / "data" / "engine-push"
RECORDED = sorted(p.stem.split("-", 1)[1] for p in ENGINE_PUSH.glob("engine-*.txt"))
ENGINE_LINE = (
    "error from registry: manifest unknown: OCI index found, but accept header does not "
    "support OCI indexes"
)


def recorded(kind: str, case: str) -> str:
    return (ENGINE_PUSH / f"{kind}-{case}.txt").read_text()


def test_every_mode_and_buildx_was_recorded() -> None:
    wanted = [f"{v}-{p}" for v in ("debian", "v0.21.1") for p in ("auto", "plain", "quiet")]
    assert sorted(f"{w}-{n}" for w in wanted for n in (1, 2)) == RECORDED
    assert all((ENGINE_PUSH / f"buildkit-{case}.txt").exists() for case in RECORDED)


@pytest.mark.parametrize("case", RECORDED)
def test_the_engine_s_failed_push_is_no_rejection_in_any_progress(case: str) -> None:
    """Where bake pushes through the engine, the engine's failure is never BuildKit's
    rejection: in quiet progress, where its step and summary are missing, by its words."""
    text = recorded("engine", case)
    assert detect(text, ["localhost:5100"], engine=True) is None
    failure = engine_failure(text, engine=True)
    assert failure is not None and failure.endswith(ENGINE_LINE)


@pytest.mark.parametrize("case", [c for c in RECORDED if "-quiet-" not in c])
def test_the_engine_s_steps_are_known_with_bake_s_target_prefix(case: str) -> None:
    """Plain progress names the engine's step and summary (`#8 [app] pushing NAME with
    docker` when bake builds several targets): known by them alone."""
    assert detect(recorded("engine", case), ["localhost:5100"]) is None


@pytest.mark.parametrize("case", RECORDED)
def test_buildkit_s_own_rejection_still_counts_where_the_engine_pushes(case: str) -> None:
    text = recorded("buildkit", case)
    found = detect(text, ["localhost:5100"], engine=True)
    assert found is not None and (found.host, found.profile) == ("localhost:5100", "docker-v2")
    assert "media type application/vnd.oci.image.manifest.v1+json is not supported" in found.line
    assert engine_failure(text, engine=True) is None


def test_the_engine_s_words_count_only_where_the_engine_pushes() -> None:
    """A registry's message holding the engine's words does not hide its rejection of
    BuildKit's push on a builder that never pushes through the engine."""
    line = "ERROR: failed to push r.example/a:1: error from registry: manifest invalid"
    assert detect(line, ["r.example"], engine=True) is None
    found = detect(line, ["r.example"])
    assert found is not None and found.profile == "docker-v2"
    assert engine_failure(line, engine=False) is None


def test_a_failure_of_both_pushes_is_not_the_engine_s_alone() -> None:
    both = recorded("buildkit", "v0.21.1-quiet-1") + recorded("engine", "v0.21.1-quiet-1")
    assert engine_failure(both, engine=True) is None
    found = detect(both, ["localhost:5100"], engine=True)
    assert found is not None and found.profile == "docker-v2"


@pytest.mark.parametrize("case", [c for c in RECORDED if "-quiet-" in c])
def test_auto_neither_retries_nor_remembers_the_engine_s_failure_and_names_it(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--guard=auto after a quiet bake on a builder whose bake pushes through the engine:
    nothing detected or retried, and the engine's second push is named as the cause."""
    from bakeguard import learned, log
    from bakeguard.options import parse as parse_options
    from bakeguard.profiles import Profiles

    environ = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "BAKEGUARD_LOG_FORMAT": "console"}
    log.configure(environ=environ)
    opts, _ = parse_options(["--guard=auto"], environ)
    record: dict[str, object] = {}
    profiles = Profiles(opts, environ, record, lambda level, text: None)
    text = recorded("engine", case)
    defn = Definition.parse(
        json.dumps(
            {
                "target": {
                    name: {
                        "tags": [f"localhost:5100/rec/{name}:v1"],
                        "platforms": ["linux/amd64", "linux/arm64"],
                        "output": ["type=image,push=true"],
                    }
                    for name in ("app", "web")
                }
            }
        )
    )
    assert profiles.retry_for(text, defn, engine=True) is None
    assert profiles.engine_failed(text, engine=True)
    assert "compat_detected" not in record and profiles.rejection is None
    assert not learned.exists(environ)
    said = capsys.readouterr().err
    assert "bake failed in the engine's second push, after BuildKit's own push: " in said
    assert ENGINE_LINE in said and "rebuilding" not in said
    # on a builder whose bake does not push through the engine, nothing is the engine's
    assert not profiles.engine_failed(text, engine=False)


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
