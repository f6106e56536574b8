"""Runs pushing one tag at once (two commits' CI jobs, say), each with its own content: every
run exits 0 or 3 honestly, assembles only from what its own bake pushed (never from a
per-platform tag another run may have pushed since), names only its own images in its
report, no index mixes runs, and a run whose tag another push wrote after it says so.

Whose is an image is read from its content: each run's file, in the layer of every platform
manifest, says which run built it."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import reports
from tests.front import Front
from tests.helpers import Stack, digest_at, unique_repo

ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
RUNS, ROUNDS = 3, 2


def _get(registry: str, repo: str, kind: str, ref: str) -> bytes:
    req = urllib.request.Request(
        f"http://{registry}/v2/{repo}/{kind}/{ref}", headers={"Accept": ACCEPT}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return bytes(r.read())


def manifest(registry: str, repo: str, ref: str) -> dict[str, Any]:
    doc = json.loads(_get(registry, repo, "manifests", ref))
    assert isinstance(doc, dict)
    return doc


def platform_children(doc: dict[str, Any]) -> list[str]:
    """An index's platform manifests (attestations left out)."""
    return [
        m["digest"]
        for m in doc.get("manifests", [])
        if (m.get("platform") or {}).get("os") != "unknown"
    ]


def who_built(registry: str, repo: str, digest: str) -> set[str]:
    """The runs whose file is in the image `digest` (an index: every platform manifest)."""
    doc = manifest(registry, repo, digest)
    found = set()
    for m in platform_children(doc) if "manifests" in doc else [digest]:
        for layer in manifest(registry, repo, m)["layers"]:
            blob = _get(registry, repo, "blobs", layer["digest"])
            raw = gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
            with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                member = tar.extractfile("hello.txt")
                assert member is not None
                found.add(member.read().decode().strip())
    return found


@dataclass
class Run:
    name: str  # what its file says
    code: int
    stderr: str
    report: dict[str, Any]


def two_platform_project(where: Path, content: str) -> None:
    """Target app, 2 platforms, tag from TAG; its one file holds `content`, so that each run's
    images are its own and can be told apart in the registry (`who_built`)."""
    (where / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    (where / "hello.txt").write_text(content + "\n")
    (where / "docker-bake.hcl").write_text(
        'variable "TAG" {}\ntarget "app" {\n  platforms = ["linux/amd64", "linux/arm64"]\n'
        "  tags = [TAG]\n}\n"
    )


def start_runs(
    stack: Stack, tmp: Path, env: dict[str, str], args: list[str], rnd: int
) -> list[Run]:
    """RUNS bakeguard runs of the same tag at once, each from a project of its own."""
    procs = []
    for i in range(RUNS):
        name = f"round {rnd} run {i} {tmp.name}"
        where = tmp / f"r{rnd}-{i}"
        where.mkdir()
        two_platform_project(where, name)
        report = where / "report.json"
        p = subprocess.Popen(
            [sys.executable, "-m", "bakeguard", "app", "--push", *args]
            + ["--guard-report", str(report)],
            env=env,
            cwd=where,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append((name, p, report))
    runs = []
    for name, p, report in procs:
        _, err = p.communicate(timeout=300)
        runs.append(Run(name, p.returncode, err, reports.load(report)))
    return runs


def check_round(stack: Stack, repo: str, tag: str, runs: list[Run]) -> None:
    reg = stack.registry  # the front's storage, read directly
    names = {r.name for r in runs}
    for run in runs:
        if "verification" not in run.report:  # bake itself failed: its exit code, told so
            assert run.code == run.report["bake_exit_code"] != 0, run.stderr[-2000:]
            assert run.report["tags"] and "the registry holds:" in run.stderr
            continue
        assert run.code in (0, 3), run.stderr[-2000:]
        for split in run.report.get("split", []):  # its sources are this run's images only
            for p in split["platform_sources"]:
                assert who_built(reg, repo, p["digest"]) == {run.name}, (p, run.stderr[-2000:])
        (ver,) = run.report["verification"]
        ours = ver["expected_digest"]
        assert ours, "the index this run wrote is named"
        assert who_built(reg, repo, ours) == {run.name}, run.stderr[-2000:]
        if ver["digest"] == ours:  # read before another run wrote the tag
            assert run.code == 0 and ver.get("another_push") is None
            assert f"verify {tag} (target app): OK, 2/2 platforms" in run.stderr
        else:  # another run's index, whole: exit 0 and a warning naming it
            assert run.code == 0 and ver["ok"], run.stderr[-2000:]
            assert ver.get("another_push") == ver["digest"], ver
            assert f"holds another push's image {ver['digest']}" in run.stderr
            theirs = who_built(reg, repo, ver["digest"])
            assert len(theirs) == 1 and theirs < names - {run.name}
    # the tag holds one run's index (none mixes runs): the last writer's, whose
    # verification (if its bake got that far) saw its own
    final = str(digest_at(tag, stack.env))
    (owner,) = who_built(reg, repo, final)
    (last,) = [r for r in runs if r.name == owner]
    if "verification" in last.report:
        (ver,) = last.report["verification"]
        assert ver["expected_digest"] == final and ver.get("another_push") is None


@pytest.mark.parametrize(
    ("label", "builder", "split"),
    [("v0.21.1", "default", "always"), ("newest", "bg-remote", "always")]
    + [("newest", "default", "never")],
    ids=["docker-driver-0.21.1-msr", "remote", "plain"],
)
def test_runs_pushing_one_tag_at_once_each_name_only_their_own(
    stack: Stack,
    tmp_path: Path,
    front: Callable[..., Front],
    label: str,
    builder: str,
    split: str,
) -> None:
    """The split with buildx 0.21.1 on the docker driver behind a registry like buildx#3070's
    (per-platform tags, which the engine's second push rewrites and buildx reads back), and
    on a remote builder (by digest); and a plain push (bake's own index, on the docker
    driver of a fixed buildx: 0.21.1's engine push fails now and then under concurrency, and
    bake's exit code then stands)."""
    # bakeguard's reads of the tag are slow: a run's verification then reads the tag after
    # other runs wrote it, as on a busy registry
    f = front(msr=split == "always", slow_reads=("bakeguard", 2.0))
    repo = f"{unique_repo('concur')}/app"
    tag = f"localhost:{f.port}/{repo}:v1"
    env = stack.buildx(label, TAG=tag)
    args = [f"--guard-split={split}", "--builder", builder]
    for rnd in range(ROUNDS):
        check_round(stack, repo, tag, start_runs(stack, tmp_path, env, args, rnd))


@pytest.mark.parametrize("progress", ["plain", "quiet"])
def test_a_bake_failed_in_the_engine_s_push_assembles_this_run_s_own_digests(
    stack: Stack, tmp_path: Path, front: Callable[..., Front], progress: str
) -> None:
    """buildx 0.21.1's docker driver behind a registry like buildx#3070's that answers the
    engine's second push with an error: bake exits 1 and writes no metadata. bake's own
    output says what BuildKit pushed to each per-platform tag: those digests, this run's,
    are confirmed and assembled at once, no retry. With no output to read (quiet), the
    platforms are built once more and the engine's local images used, and the run says
    it cannot tell they are its own."""
    f = front(msr=True, msr_error=True)
    repo = f"{unique_repo('noMeta'.lower())}/app"
    tag = f"localhost:{f.port}/{repo}:v1"
    name = f"{progress} {tmp_path.name}"
    two_platform_project(tmp_path, name)
    report = tmp_path / "report.json"
    env = stack.buildx("v0.21.1", TAG=tag)
    args = ["app", "--push", f"--progress={progress}", "--guard-report", str(report)]
    if progress == "quiet":
        # (--guard=auto: the engine's error, without its step lines, is no rejection to
        # retry with a profile: test_engine_push)
        args += ["--guard-split=always"]
    res = subprocess.run(
        [sys.executable, "-m", "bakeguard", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "bake exited 1, yet every platform's push is confirmed" in res.stderr
    doc = reports.load(report)
    assert doc["bake_exit_code"] == 1 and doc["verification"][0]["ok"]
    for p in doc["split"][0]["platform_sources"]:
        assert who_built(stack.registry, repo, p["digest"]) == {name}
    cannot_tell = "are the engine's local images of those names" in res.stderr
    retried = "re-running linux/amd64, linux/arm64 once from cache" in res.stderr
    assert cannot_tell == retried == (progress == "quiet"), res.stderr[-3000:]
