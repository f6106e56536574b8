"""Whatever a registry answers, verification ends in a documented exit code (0 or 3) with a
schema-valid report, never a traceback, and nothing it sent reaches the log as a control
character. The answers are the real ones in tests/data/registry (an OCI index of three
platforms with attestations, a Docker manifest list, an OCI and a Docker image manifest,
their image configs, distribution's and crane's error bodies), damaged: first every field
of every body deleted and given a value of another type, each checked against what it must
give; then random damage (hypothesis: values of any type, odd strings and digests, several
fields at once, broken bytes, lying headers). Run through bakeguard's real entry point with a
canned registry (tests/unit/registry_fake.py); derandomized, a few seconds in all."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.registry_fake import (
    ERRORS,
    TARGETS,
    Answer,
    Canned,
    Ground,
    Run,
    data,
    digest_of,
    doc,
    real_registry,
    tag_answer,
)
from tests.unit.registry_fake import ground as ground  # noqa: PLC0414 (the fixture)

FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
Path = tuple[str | int, ...]
MANIFESTS = ("oci-index.json", "docker-list.json", "oci-manifest.json", "docker-manifest.json")
CONFIGS = {"oci-config.json": "oci-manifest.json", "docker-config.json": "docker-manifest.json"}
# fields every descriptor, index, manifest and platform must have (the OCI image spec's
# REQUIRED), and those of an image config that verification reads
REQUIRED = {"schemaVersion", "manifests", "config", "layers", "mediaType", "digest", "size"}
PLATFORM_FIELDS = {"os", "architecture"}
ERROR_STATUSES = (400, 401, 403, 404, 405, 429, 500, 503)


def paths(v: Any, at: Path = ()) -> list[Path]:
    """Every value's path in a JSON document (the root's left out)."""
    out: list[Path] = []
    items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else []
    for k, x in items:
        out.append((*at, k))
        out += paths(x, (*at, k))
    return out


def at(d: Any, path: Path) -> Any:
    for k in path:
        d = d[k]
    return d


def mutate(d: Any, path: Path, value: Any = None, delete: bool = False) -> Any:
    d = copy.deepcopy(d)
    parent, key = at(d, path[:-1]), path[-1]
    if delete:
        del parent[key]
    else:
        parent[key] = value
    return d


def other_type(v: Any) -> Any:
    """A value of another JSON type than v (never null: that is absence)."""
    if isinstance(v, (bool, int, float)):
        return str(v)
    if isinstance(v, str):
        return 5
    return ["x"] if isinstance(v, dict) else {"x": 1}


# ---------------------------------------------------------------- serving a damaged body


def serve(name: str, body: bytes) -> tuple[str, Canned]:
    """A registry answering `body` where `name` stands (the tag, or a tag's config blob, its
    manifest naming it by digest and size): (the target to verify, the registry)."""
    if name in CONFIGS:
        manifest = doc(CONFIGS[name])
        manifest["config"].update(digest=digest_of(body), size=len(body))
        fake = real_registry(json.dumps(manifest).encode())
        fake.blobs[digest_of(body)] = body
        return "one", fake
    return ("app" if "index" in name or "list" in name else "one"), real_registry(body)


def check(run: Run, target: str, fake: Canned, must_fail: bool) -> str | None:
    """What is wrong with a run's outcome, or None: exit 0 or 3 (3 when `must_fail`); an
    OK only for a tag holding every expected platform in manifests the registry holds; a
    failure that names the tag; no control character in the log."""
    ref, expected = TARGETS[target]
    [v] = run.report["verification"]
    if run.code not in (0, 3) or (must_fail and run.code != 3):
        return f"exit {run.code}: {run.err[-600:]}"
    if run.code == 0:
        held = set(fake.manifests) | {fake.tag.headers.get("Docker-Content-Digest")}
        if not (v["ok"] and set(expected) <= set(v["found"])):
            return f"exit 0 for {v}"
        if any(p["digest"] not in held for p in v["platform_manifests"]):
            return f"a platform manifest the registry does not hold: {v}"
    elif v["ok"] or ref not in run.err:
        return f"exit 3 without a failed outcome naming {ref}: {run.err[-600:]}"
    if any(not c.isprintable() and c != "\n" for c in run.err):
        return f"a control character in the log: {run.err[-600:]!r}"
    return None


# ---------------------------------------------------------------- every field, deterministic


def must_fail(name: str, path: Path, delete: bool) -> bool:
    """Whether damage at path must fail verification: any retyped field of a manifest or
    index (every field is checked), a required field deleted; in a config, only its
    platform fields are read."""
    key = path[-1]
    if name in CONFIGS:
        return len(path) == 1 and key in (PLATFORM_FIELDS | ({"variant"} if not delete else set()))
    if not delete:
        return True
    required = key in REQUIRED and path != ("mediaType",)
    return required or (isinstance(key, str) and key in PLATFORM_FIELDS)


def test_every_field_of_every_real_answer_deleted_or_retyped(ground: Ground) -> None:
    wrong: list[str] = []
    codes: dict[tuple[bool, int], int] = {}
    for name in (*MANIFESTS, *CONFIGS):
        original = doc(name)
        for path in paths(original):
            for delete in (True, False):
                if delete and isinstance(path[-1], int):
                    continue  # (a list entry left out: the random test below does it)
                value = None if delete else other_type(at(original, path))
                damaged = json.dumps(mutate(original, path, value, delete)).encode()
                target, fake = serve(name, damaged)
                run = ground.verify(target, fake)
                fails = must_fail(name, path, delete)
                codes[fails, run.code] = codes.get((fails, run.code), 0) + 1
                problem = check(run, target, fake, fails)
                if problem:
                    wrong.append(f"{name} {path} {'deleted' if delete else 'retyped'}: {problem}")
    assert not wrong, "\n".join(wrong[:10])
    # both kinds were met: damage that must fail, and damage that verification may ignore
    # (a config's other fields, an attestation's platform, the top mediaType) and did
    assert codes[True, 3] > 150 and codes[False, 0] > 30, codes


def test_every_field_of_every_real_error_body_deleted_or_retyped(ground: Ground) -> None:
    wrong: list[str] = []
    n = 0
    for error in ERRORS:
        original = json.loads(error["body"])
        for path in paths(original):
            for delete in (True, False):
                value = None if delete else other_type(at(original, path))
                damaged = json.dumps(mutate(original, path, value, delete)).encode()
                n += 1
                status = ERROR_STATUSES[n % len(ERROR_STATUSES)]
                fake = Canned(Answer(status, damaged))
                problem = check(ground.verify("app", fake), "app", fake, must_fail=True)
                if problem:
                    wrong.append(f"{error['what']} {path} at {status}: {problem}")
    assert not wrong, "\n".join(wrong[:10])


# ---------------------------------------------------------------- random damage

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
ODD_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "linux\x1b[2J",
        "a\nb",
        "\u202e",
        "x" * 5000,
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha512:" + "a" * 128,
        "md5:abc",
        "sha256:../../v2/_catalog",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.empty.v1+json",
        "application/vnd.oci.artifact.manifest.v1+json",
        "unknown",
        "linux",
        "arm",
        "v7",
        "attestation-manifest",
    ]
)
VALUES = st.one_of(JSON_VALUES, ODD_STRINGS, st.integers(-1, 3), st.just(2**63))


@st.composite
def damage(draw: st.DrawFn, original: Any) -> bytes:
    """A real body with a few fields changed (a value of any type, an odd string, deleted,
    a list entry repeated or dropped, a field added), or its bytes broken."""
    how = draw(st.sampled_from(["fields", "fields", "fields", "bytes", "document"]))
    if how == "document":
        return json.dumps(draw(JSON_VALUES)).encode()
    raw = json.dumps(original).encode()
    if how == "bytes":
        cut = draw(st.integers(0, len(raw)))
        return raw[:cut] + draw(st.binary(max_size=4)) + raw[cut + draw(st.integers(0, 3)) :]
    d = copy.deepcopy(original)
    for _ in range(draw(st.integers(1, 3))):
        found = paths(d)
        if not found:
            break
        path = draw(st.sampled_from(found))
        parent, key = at(d, path[:-1]), path[-1]
        op = draw(st.sampled_from(["set", "set", "delete", "repeat", "add"]))
        if op == "set":
            parent[key] = draw(VALUES)
        elif op == "delete":
            del parent[key]
        elif op == "repeat" and isinstance(parent, list):
            parent.insert(int(key), copy.deepcopy(parent[int(key)]))
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["manifests", "config", "layers", "fsLayers", "x"]))] = (
                draw(VALUES)
            )
    return json.dumps(d).encode()


HEADERS: dict[str, Callable[[bytes], dict[str, str]]] = {
    "as sent": lambda b: {},
    "no digest": lambda b: {"Docker-Content-Digest": ""},
    "another digest": lambda b: {"Docker-Content-Digest": digest_of(b + b" ")},
    "a bad digest": lambda b: {"Docker-Content-Digest": "sha256:../x"},
    "sha512": lambda b: {"Docker-Content-Digest": "sha512:" + "0" * 128},
    "no type": lambda b: {"Content-Type": ""},
    "another type": lambda b: {"Content-Type": "application/vnd.oci.image.index.v1+json"},
    "a docker type": lambda b: {
        "Content-Type": "application/vnd.docker.distribution.manifest.v2+json"
    },
    "a plain type": lambda b: {"Content-Type": "text/html; charset=utf-8"},
}


@given(
    st.sampled_from((*MANIFESTS, *CONFIGS, "error")).flatmap(
        lambda name: st.tuples(
            st.just(name),
            damage(json.loads(ERRORS[0]["body"]) if name == "error" else doc(name)),
            st.sampled_from(sorted(HEADERS)),
            st.sampled_from(ERROR_STATUSES),
        )
    )
)
@FUZZ
def test_any_damage_to_a_real_answer_is_exit_0_or_3_with_a_report(
    ground: Ground, case: tuple[str, bytes, str, int]
) -> None:
    name, body, headers, status = case
    if name == "error":
        target, fake = "app", Canned(Answer(status, body))
    else:
        target, fake = serve(name, body)
        if name not in CONFIGS:
            answer = tag_answer(body)
            answer.headers.update(HEADERS[headers](body))
            fake.tag = answer
    problem = check(ground.verify(target, fake), target, fake, must_fail=name == "error")
    assert problem is None, problem


@pytest.mark.parametrize("name", MANIFESTS)
def test_the_undamaged_answers_verify(ground: Ground, name: str) -> None:
    """(The damage above is what fails: each real answer, as sent, is exit 0.)"""
    target, fake = serve(name, data(name))
    run = ground.verify(target, fake)
    assert run.code == 0 and check(run, target, fake, must_fail=False) is None, run.err
