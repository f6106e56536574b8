"""Names bake refuses (#23, item 10): a tag that is no image reference by the grammar of
distribution/reference is reported as `invalid` after bake's refusal, with bake's exit code and
a report, and never read from the registry (a non-ASCII name used to crash the registry read
with UnicodeEncodeError, and an uppercase repository or a 129-character tag was asked for and
called "absent")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bakeguard import refs
from bakeguard.refs import Reference
from tests import reports
from tests.unit import bakestub

LONG_TAG = "t" * 129


@pytest.mark.parametrize(
    "ref",
    [
        "localhost:5000/x/y:v1",
        "ubuntu",
        "ubuntu:22.04",
        "localhost:5000",  # the name "localhost", tag "5000", as docker reads it
        "Registry.Example/app:v1",  # an uppercase first part is a registry (splitDockerDomain)
        "[::1]:5000/a__b/c--d/e.f:V_1.x-y",
        f"r.example/app:{'t' * 128}",
        f"r.example/app@sha256:{'a' * 64}",
        f"r.example/app:v1@sha256:{'a' * 64}",
    ],
)
def test_references_docker_accepts(ref: str) -> None:
    assert refs.problem(ref) is None


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("localhost:5000/Bad/app:v1", "the repository name 'Bad/app' must be lowercase"),
        (f"r.example/app:{LONG_TAG}", "the tag is 129 characters long, at most 128"),
        ("r.example/bäd:v1", "it holds 'ä'"),
        ("r.example/app:vä", "it holds 'ä'"),
        ("r.example/app:v1\x1b[2K", "it holds '\\x1b'"),
        ("r.example/app:.v1", "'.v1' is not a tag"),
        ("r.example/a___b:v1", "'a___b' in 'a___b' is not a repository name component"),
        ("r.example//app", "'' in '/app' is not a repository name component"),
        ("r.example/app@sha256:abc", "'sha256:abc' is not a digest"),
        ("bad_host:5000/app:v1", "'bad_host:5000' is not a registry host[:port]"),
        (f"r.example/{'a' * 256}", "the repository name is 256 characters long, at most 255"),
        ("a" * 64, "is an image ID, not a repository"),
        ("", "empty"),
    ],
)
def test_references_docker_refuses_say_why(ref: str, why: str) -> None:
    assert why in (refs.problem(ref) or "")


def test_no_reference_makes_the_check_slow() -> None:
    """Backtracking regular expressions over a whole reference can take ages on crafted
    input; the check goes piece by piece."""
    import time

    t0 = time.monotonic()
    for ref in ("a" * 20000 + "!", "a-" * 10000 + "!", ("a" * 300 + ".") * 30 + "/x:", "x/" * 5000):
        assert refs.problem(ref) is not None
    assert time.monotonic() - t0 < 2


def test_an_uppercase_first_part_is_a_registry_as_docker_reads_it() -> None:
    assert Reference.parse("Registry.Example/app:v1").registry == "Registry.Example"
    assert Reference.parse("Team/app:v1").registry == "Team"


@pytest.fixture
def registry() -> Iterator[tuple[bakestub.Registry, str]]:
    reg = bakestub.Registry()
    for address in bakestub.serve(reg):
        yield reg, address


@pytest.mark.parametrize(
    "name",
    ["bäd/app:v1", "ok/app:vä", "Bad/app:v1", f"ok/app:{LONG_TAG}"],
    ids=["non-ascii-repository", "non-ascii-tag", "uppercase-repository", "129-character-tag"],
)
@pytest.mark.parametrize("buildx", ["v0.38.2", "v0.21.1"], ids=["plain", "split-advisory"])
def test_a_name_bake_refused_is_reported_invalid_and_never_read(
    tmp_path: Path,
    registry: tuple[bakestub.Registry, str],
    name: str,
    buildx: str,
) -> None:
    """On v0.21.1's docker driver an advisory would split: a name bake refuses is not split
    (a 129-character tag used to be blamed on the split suffix, exit 2), bake runs as asked."""
    reg, address = registry
    tag = f"{address}/{name}"
    (tmp_path / "def.json").write_text(bakestub.definition([tag]))
    env = bakestub.environment(
        tmp_path,
        STUB_DEFINITION=str(tmp_path / "def.json"),
        STUB_BUILDX=buildx,
        STUB_DRIVER="docker",
        STUB_BAKE_EXIT="1",
        STUB_BAKE_STDERR="ERROR: invalid reference format\n",
    )
    report = tmp_path / "report.json"
    res = bakestub.bakeguard(["--push", f"--guard-report={report}"], env, tmp_path)
    assert res.returncode == 1, res.stderr  # bake's own
    assert "Traceback" not in res.stderr and "UnicodeEncodeError" not in res.stderr
    (entry,) = reports.load(report)["tags"]
    assert entry["ref"] == tag and entry["state"] == "invalid", entry
    assert "not a valid image reference" in entry["error"]
    assert f"{tag} (target app): invalid: not a valid image reference" in res.stderr
    assert reg.requests == []  # not even a connection warmed for it
    _prints, builds = bakestub.bakes(env)
    assert len(builds) == 1 and "--file" not in " ".join(builds[0]["argv"])  # as asked
    if buildx == "v0.21.1":
        assert "is not a valid image reference" in res.stderr and "without a split" in res.stderr


def test_verify_only_names_an_invalid_tag_without_reading_it(
    tmp_path: Path, registry: tuple[bakestub.Registry, str]
) -> None:
    reg, address = registry
    (tmp_path / "def.json").write_text(bakestub.definition([f"{address}/Bad/app:v1"]))
    env = bakestub.environment(tmp_path, STUB_DEFINITION=str(tmp_path / "def.json"))
    report = tmp_path / "report.json"
    res = bakestub.bakeguard(
        ["--push", "--guard-verify-only", f"--guard-report={report}"], env, tmp_path
    )
    assert res.returncode == 3, res.stderr
    assert "must be lowercase" in res.stderr and "fix: correct the name" in res.stderr
    (entry,) = reports.load(report)["verification"]
    assert not entry["ok"] and "not a valid image reference" in entry["error"]
    assert reg.requests == []
