"""Trust under hostile but realistic input, on the real stack: what the user wrote is what is
expected (compose platforms, comma lists in --set, tags over an output's name), a failed push
says what every tag holds, and only BuildKit's own rejection teaches a profile."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests import reports
from tests.front import Front
from tests.helpers import THREE, Stack, bake, bakeguard, digest_at, platforms_at, unique_repo

TWO = {"linux/amd64", "linux/arm64"}


def compose_project(where: Path, tag: str) -> Path:
    (where / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    (where / "hello.txt").write_text(f"compose {where.name}\n")
    (where / "compose.yaml").write_text(
        "services:\n"
        "  app:\n"
        f"    image: {tag}\n"
        "    build:\n"
        "      context: .\n"
        "      platforms: [linux/amd64, linux/arm64]\n"
    )
    return where


@pytest.mark.parametrize("builder", ["bg-remote", "default"])
def test_compose_platforms_that_old_buildx_drops_are_built_and_expected(
    stack: Stack, tmp_path: Path, builder: str
) -> None:
    """buildx < 0.23 ignores compose's build.platforms: plain bake pushes one platform. Under
    --guard=auto bakeguard builds what the compose file declares; under --guard=warn it
    builds as asked and verification names what is missing (never "OK, 1/1")."""
    tag = f"localhost:5000/{unique_repo('compose')}/app:v1"
    project = compose_project(tmp_path, tag)
    env = stack.buildx("v0.21.1", BAKEGUARD_PROBE_TTL="0")
    assert bake(["--push", "--builder", builder], env, project).returncode == 0
    assert platforms_at(tag, env) == {"linux/amd64"}  # the bug, reproduced

    warn = bakeguard(["--push", "--builder", builder, "--guard=warn"], env, project)
    assert warn.returncode == 3, warn.stderr[-3000:]
    assert "[compose-platforms-ignored]" in warn.stderr
    assert "missing: linux/arm64" in warn.stderr

    res = bakeguard(["--push", "--builder", builder], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "building linux/amd64, linux/arm64 as the compose file declares" in res.stderr
    assert "OK, 2/2 platforms" in res.stderr
    assert platforms_at(tag, env) == TWO


@pytest.mark.parametrize(
    ("label", "via_msr"), [("v0.21.1", True), ("newest", False)], ids=["affected", "fixed"]
)
def test_a_comma_list_in_set_platform_is_guarded_and_verified(
    stack: Stack, project: Path, front: Callable[..., Front], label: str, via_msr: bool
) -> None:
    """`--set '*.platform=a,b'` is two platforms: on an affected buildx the guard splits (the
    tag ends whole behind an MSR-like registry); on a fixed one verification expects both."""
    host = f"localhost:{front(msr=True).port}" if via_msr else "localhost:5000"
    tag = f"{host}/{unique_repo('comma')}/app:v1"
    env = stack.buildx(label, TAG=tag, BAKEGUARD_PROBE_TTL="0")
    res = bakeguard(["--push", "--set", "*.platform=linux/amd64,linux/arm64"], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "OK, 2/2 platforms (linux/amd64, linux/arm64)" in res.stderr
    assert ("splitting per platform" in res.stderr) == via_msr
    assert platforms_at(tag, env) == TWO


def test_an_output_name_beside_tags_verifies_the_tags_bake_pushed(
    stack: Stack, project: Path
) -> None:
    repo = unique_repo("outname")
    tag, other = f"localhost:5000/{repo}/app:v1", f"localhost:5000/{repo}/other:v1"
    env = stack.buildx("newest", TAG=tag)
    res = bakeguard(
        ["--builder", "bg-remote", "--set", f"app.output=type=image,name={other},push=true"],
        env,
        project,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"verify {tag} (target app): OK, 3/3" in res.stderr
    assert platforms_at(tag, env) == THREE and platforms_at(other, env) == set()


def test_a_failed_push_says_what_each_tag_holds(
    stack: Stack, project: Path, front: Callable[..., Front], tmp_path: Path
) -> None:
    """Debian's buildx 0.13.1 told not to split, behind a registry like buildx#3070's: bake
    exits 1 and the tag that held three platforms now holds one. The run keeps bake's exit
    code and says so, in the log and the report."""
    f = front(msr=True, msr_error=True)
    repo = f"{unique_repo('holds')}/app"
    tag = f"localhost:{f.port}/{repo}:v1"
    whole = stack.buildx("newest", TAG=tag)
    assert bakeguard(["--push", "--builder", "bg-remote"], whole, project).returncode == 0
    before = digest_at(tag, whole)
    assert platforms_at(tag, whole) == THREE

    (project / "hello.txt").write_text("changed\n")
    report = tmp_path / "report.json"
    env = stack.buildx("debian", TAG=tag, BAKEGUARD_PROBE_TTL="0")
    args = ["--push", "--guard-split=never", "--guard-report", str(report)]
    res = bakeguard(args, env, project)
    assert res.returncode == 1, res.stderr[-3000:]
    assert platforms_at(tag, env) == {"linux/amd64"}
    assert "the registry holds:" in res.stderr
    assert f"{tag} (target app): missing: holds linux/amd64; missing linux/arm64" in res.stderr
    doc = reports.load(report)
    (entry,) = doc["tags"]
    assert entry["state"] == "missing" and entry["digest_before"] == before
    assert entry["missing"] == ["linux/arm64", "linux/arm/v7"]
    assert doc["exit_code"] == 1 and doc["bake_exit_code"] == 1
    # the engine's failed second push is not a registry rejection: nothing taught or advised
    assert "BAKEGUARD_COMPAT" not in res.stderr and "rebuilding" not in res.stderr


def test_a_build_that_fails_before_pushing_leaves_the_tag_untouched(
    stack: Stack, project: Path
) -> None:
    tag = f"localhost:5000/{unique_repo('untouched')}/app:v1"
    env = stack.buildx("v0.21.1", TAG=tag, BAKEGUARD_PROBE_TTL="0")
    assert bakeguard(["--push"], env, project).returncode == 0
    before = digest_at(tag, env)
    (project / "hello.txt").unlink()  # COPY fails: nothing is pushed
    res = bakeguard(["--push", "--guard=warn"], env, project)
    assert res.returncode == 1, res.stderr[-3000:]
    assert f"{tag} (target app): untouched, still {str(before)[:19]}" in res.stderr
    assert digest_at(tag, env) == before


def test_a_failed_retry_advises_nothing_and_names_both_errors(
    stack: Stack, project: Path, front: Callable[..., Front]
) -> None:
    """A registry that takes no index at all: the OCI rejection fits docker-v2, whose retry
    is rejected too. No setting is advised; both errors are named."""
    f = front(reject_indexes=True)
    tag = f"localhost:{f.port}/{unique_repo('noindex')}/app:v1"
    env = stack.buildx("newest", TAG=tag, XDG_CACHE_HOME=str(project / "cache"))
    res = bakeguard(["--push", "--builder", "bg-remote"], env, project)
    assert res.returncode not in (0, 3), res.stderr[-3000:]
    assert "rebuilding from cache, once, with the docker-v2 profile" in res.stderr
    assert "the retry with the docker-v2 profile failed too" in res.stderr
    assert "first push:" in res.stderr and "retry:" in res.stderr
    assert "BAKEGUARD_COMPAT" not in res.stderr and "remembered" not in res.stderr
    assert f"{tag} (target app): absent" in res.stderr
    # ... and teaches nothing: the next run starts with BuildKit's defaults again
    doctor = bakeguard(["--guard-doctor", "--builder", "bg-remote"], env, project)
    assert "remembered registry profiles: none" in doctor.stdout, doctor.stdout


def test_an_assembly_that_fails_midway_says_which_tags_were_written(
    stack: Stack, tmp_path: Path, front: Callable[..., Front]
) -> None:
    """Two split targets; the second's registry takes no index, so its assembly fails after
    the first target's tag was written. The run says which tag holds what."""
    f = front(reject_indexes=True)
    repo = unique_repo("midway")
    good, bad = f"localhost:5000/{repo}/a:v1", f"localhost:{f.port}/{repo}/b:v1"
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /\n")
    (tmp_path / "hello.txt").write_text(repo)
    (tmp_path / "docker-bake.hcl").write_text(
        'group "default" {\n  targets = ["a", "b"]\n}\n'
        f'target "a" {{\n  platforms = ["linux/amd64", "linux/arm64"]\n  tags = ["{good}"]\n}}\n'
        f'target "b" {{\n  platforms = ["linux/amd64", "linux/arm64"]\n  tags = ["{bad}"]\n}}\n'
    )
    env = stack.buildx("newest")
    args = ["--push", "--builder", "bg-remote", "--guard-split=always", "--provenance=false"]
    res = bakeguard(args, env, tmp_path)
    assert res.returncode not in (0, 3), res.stderr[-3000:]
    assert "imagetools create for target b failed" in res.stderr
    assert f"{good} (target a): present: holds linux/amd64, linux/arm64" in res.stderr
    assert f"{bad} (target b): absent" in res.stderr
    assert platforms_at(good, env) == TWO


@pytest.mark.parametrize(
    "name",
    ["bäd/app:v1", "Bad/app:v1", f"ok/app:{'t' * 129}"],
    ids=["non-ascii", "uppercase", "129-character-tag"],
)
@pytest.mark.parametrize("label", ["newest", "v0.21.1"])
def test_a_name_bake_refuses_is_reported_invalid_not_read(
    stack: Stack,
    project: Path,
    front: Callable[..., Front],
    tmp_path: Path,
    name: str,
    label: str,
) -> None:
    """#23 item 10: the real bake refuses the name (its exit code stays the run's); the
    report names the tag `invalid` and the registry is never asked for it (a non-ASCII name
    used to end in a UnicodeEncodeError traceback without a report, an uppercase or overlong
    one in a read of a name bake never pushed, called "absent"). On v0.21.1's docker driver
    the advisory would split: a refused name is not split."""
    f = front()
    tag = f"localhost:{f.port}/{name}"
    report = tmp_path / "report.json"
    env = stack.buildx(label, TAG=tag)
    theirs = bake(["--push"], env, project)
    res = bakeguard(["--push", "--guard-report", str(report)], env, project)
    assert theirs.returncode != 0 and res.returncode == theirs.returncode, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    (entry,) = reports.load(report)["tags"]
    assert entry["state"] == "invalid" and "not a valid image reference" in entry["error"]
    assert f"{tag} (target app): invalid: not a valid image reference" in res.stderr
    assert [s for s in f.seen if s.path != "/v2/"] == []
