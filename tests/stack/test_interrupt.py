"""Ctrl-C on the real stack: bake stops, bakeguard exits 130 like `docker buildx bake`, and
no buildx process is left behind, whether bake runs through docker or as the plugin itself."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import reports
from tests.front import Front
from tests.held import Held
from tests.helpers import Stack, bakeguard, digest_at, unique_repo


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child = int(stat.parent.name)
            found |= {child, *_descendants(child)}
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@dataclass
class Interrupted:
    code: int
    stderr: str
    children: dict[int, bytes]  # bakeguard's descendants just before Ctrl-C: command lines
    took: float  # seconds from Ctrl-C to bakeguard's exit


def ctrl_c_mid_build(
    stack: Stack,
    where: Path,
    env: dict[str, str],
    args: list[str],
    tag: str = "",
    also: threading.Event | None = None,
) -> Interrupted:
    """`bakeguard ARGS --push` on a 2-platform build whose base image never arrives; Ctrl-C
    once BuildKit has connected to that registry (not after a sleep), and `also` is set."""
    silent = Held()  # a registry that never answers: the build hangs pulling from it
    try:
        (where / "Dockerfile").write_text(f"FROM 127.0.0.1:{silent.port}/never/answers:1\n")
        (where / "docker-bake.hcl").write_text(
            f'target "default" {{\n  tags = ["{tag or stack.registry + "/bakeguard/hang:1"}"]\n'
            '  platforms = ["linux/amd64", "linux/arm64"]\n}\n'
        )
        p = subprocess.Popen(
            [sys.executable, "-m", "bakeguard", *args, "--push", "--progress=plain"],
            env=env,
            cwd=where,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert silent.reached.wait(60), "bake never reached the registry"
        assert also is None or also.wait(60), "bakeguard never reached its push registry"
        children = {c: _cmdline(c) for c in _descendants(p.pid)}
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        return Interrupted(p.returncode, err, children, time.monotonic() - t0)
    finally:
        silent.close()


@pytest.mark.parametrize(
    ("args", "direct"),
    [(["--guard=off"], "1"), (["--guard=off"], "0"), ([], "1"), (["--guard-split=always"], "1")],
    ids=["off-plugin-direct", "off-via-docker", "guarded", "split"],
)
def test_ctrl_c_stops_bake_and_exits_130(
    stack: Stack, tmp_path: Path, args: list[str], direct: str
) -> None:
    env = stack.buildx("newest", BAKEGUARD_PLUGIN_DIRECT=direct)
    # a probe first, so that the plugin is located (used when direct is "1")
    bakeguard(["--guard-doctor"], env, tmp_path)
    got = ctrl_c_mid_build(stack, tmp_path, env, args)
    assert got.code == 130, got.stderr[-1500:]
    assert "CANCELED" in got.stderr or "context canceled" in got.stderr
    if "--guard-split=always" in args:  # the split's imagetools create, started beside bake
        assert any(b"imagetools" in line for line in got.children.values())
    left = {c for c in got.children if Path(f"/proc/{c}").exists()}
    assert not left, f"processes left behind: {left}"


@pytest.mark.parametrize("fast", [False, True], ids=["full-path", "fast-path"])
def test_ctrl_c_still_writes_the_report(
    stack: Stack, tmp_path: Path, project: Path, fast: bool
) -> None:
    """--guard-report after Ctrl-C: exit 130 recorded, on the full path and on the fast path
    (a clean run on this builder just before lets bake start at once)."""
    env = stack.buildx(
        "newest",
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        TAG=f"{stack.registry}/bakeguard/{tmp_path.name}:v1",
    )
    if fast:
        ok = bakeguard(["--push"], env, project)
        assert ok.returncode == 0, ok.stderr[-1500:]
    hang = tmp_path / "hang"
    hang.mkdir()
    report = tmp_path / "report.json"
    got = ctrl_c_mid_build(stack, hang, env, ["--guard-report", str(report)])
    assert got.code == 130, got.stderr[-1500:]
    doc = reports.load(report)
    assert doc["exit_code"] == 130
    assert doc.get("fast_path", False) is fast


def test_ctrl_c_mid_bake_exits_promptly_when_the_push_registry_does_not_answer(
    stack: Stack, tmp_path: Path, project: Path, front: Callable[..., Front]
) -> None:
    """On the fast path the registry client warms up while bake runs; a registry that
    accepts that connection and never answers must not hold up a Ctrl-C's exit (the
    report is still written)."""
    env = stack.buildx(
        "newest",
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        TAG=f"{stack.registry}/bakeguard/{tmp_path.name}:v1",
    )
    ok = bakeguard(["--push"], env, project)  # a clean run: the next one takes the fast path
    assert ok.returncode == 0, ok.stderr[-1500:]
    f = front(silent=True)
    hang = tmp_path / "hang"
    hang.mkdir()
    report = tmp_path / "report.json"
    got = ctrl_c_mid_build(
        stack,
        hang,
        env,
        ["--guard-report", str(report)],
        tag=f"{f.addr}/{unique_repo('warm')}/app:v1",
        also=f.reached,
    )
    assert got.code == 130, got.stderr[-1500:]
    doc = reports.load(report)
    assert doc["exit_code"] == 130 and doc["fast_path"] is True
    assert got.took < 1, f"exit took {got.took:.1f} s after Ctrl-C"


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_verification_exits_at_once(
    stack: Stack,
    tmp_path: Path,
    project: Path,
    front: Callable[..., Front],
    signum: int,
    code: int,
) -> None:
    """Verification waiting on a registry that never answers: Ctrl-C (130) or SIGTERM (143)
    ends the run at once, with the report written."""
    repo = unique_repo("sigver")
    env = stack.buildx("newest")
    pushed = bakeguard(
        ["--push", "--guard=off"], {**env, "TAG": f"{stack.registry}/{repo}/app:v1"}, project
    )
    assert pushed.returncode == 0, pushed.stderr[-1500:]
    f = front(silent=True)
    report = tmp_path / "report.json"
    p = subprocess.Popen(
        [sys.executable, "-m", "bakeguard", "--guard-verify-only", "--push"]
        + ["--guard-verify-timeout=120", "--guard-report", str(report)],
        env={**env, "TAG": f"{f.addr}/{repo}/app:v1"},
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert f.reached.wait(60), "verification never reached the registry"
        t0 = time.monotonic()
        p.send_signal(signum)
        _, err = p.communicate(timeout=60)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == code, err[-1500:]
    assert took < 1, f"exit took {took:.1f} s after the signal"
    assert reports.load(report)["exit_code"] == code


def test_ctrl_c_during_the_split_s_imagetools_create_says_what_each_tag_holds(
    stack: Stack, tmp_path: Path, project: Path, front: Callable[..., Front]
) -> None:
    """Ctrl-C while the split's `imagetools create` reads its sources (the registry holds
    its requests): exit 130, the log says it was interrupted and what each tag holds (still
    what it held before: no write reached it), the report has `tags`, and no imagetools is
    left behind to write the tag after bakeguard is gone."""
    f = front()
    tag = f"localhost:{f.port}/{unique_repo('itint')}/app:v1"
    env = stack.buildx("newest", TAG=tag)
    first = bakeguard(["--push", "--guard=off", "--builder", "bg-remote"], env, project)
    assert first.returncode == 0, first.stderr[-1500:]
    before = str(digest_at(tag, env))
    (project / "hello.txt").write_text("a second commit\n")
    f.modes.hold_agent = "containerd/"  # imagetools; BuildKit and bakeguard say otherwise
    report = tmp_path / "report.json"
    p = subprocess.Popen(
        [sys.executable, "-m", "bakeguard", "--push", "--guard-split=always"]
        + ["--builder", "bg-remote", "--guard-report", str(report)],
        env=env,
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert f.held.wait(120), "imagetools create never reached the registry"
        children = {c: _cmdline(c) for c in _descendants(p.pid)}
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err[-2000:]
    assert "interrupted while writing the split's tags" in err
    assert "interrupted; the registry holds:" in err
    assert f"{tag} (target app): untouched, still {before[:19]}" in err
    doc = reports.load(report)
    assert doc["exit_code"] == 130
    assert [(t["ref"], t["state"], t["digest"]) for t in doc["tags"]] == [
        (tag, "untouched", before)
    ]
    assert any(b"imagetools" in line for line in children.values())
    left = {c: children[c] for c in children if Path(f"/proc/{c}").exists()}
    assert not left, f"processes left behind: {left}"
    f.modes.hold_agent = ""
    assert digest_at(tag, env) == before
