"""Ctrl-C on the real stack: bake stops, bakeguard exits 130 like `docker buildx bake`, and
no buildx process is left behind, whether bake runs through docker or as the plugin itself."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.helpers import Stack


class Silent:
    """A registry that accepts connections and never answers: a build pulling from it hangs
    until cancelled. `reached` is set when BuildKit has connected (bake is mid-build)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.reached = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.reached.set()

    def close(self) -> None:
        self.sock.close()
        for c in self.held:
            c.close()


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


@pytest.mark.parametrize(
    ("args", "direct"),
    [(["--guard=off"], "1"), (["--guard=off"], "0"), ([], "1"), (["--guard-split=always"], "1")],
    ids=["off-plugin-direct", "off-via-docker", "guarded", "split"],
)
def test_ctrl_c_stops_bake_and_exits_130(
    stack: Stack, tmp_path: Path, args: list[str], direct: str
) -> None:
    silent = Silent()
    try:
        (tmp_path / "Dockerfile").write_text(f"FROM 127.0.0.1:{silent.port}/never/answers:1\n")
        (tmp_path / "docker-bake.hcl").write_text(
            f'target "default" {{\n  tags = ["{stack.registry}/bakeguard/hang:1"]\n'
            '  platforms = ["linux/amd64", "linux/arm64"]\n}\n'
        )
        env = stack.buildx("newest", BAKEGUARD_PLUGIN_DIRECT=direct)
        # a probe first, so that the plugin is located (used when direct is "1")
        subprocess.run(
            [sys.executable, "-m", "bakeguard", "--guard-doctor"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            check=False,
            timeout=120,
        )
        p = subprocess.Popen(
            [sys.executable, "-m", "bakeguard", *args, "--push", "--progress=plain"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert silent.reached.wait(60), "bake never reached the registry"
        children = _descendants(p.pid)  # bake, and the split's pre-started imagetools create
        if "--guard-split=always" in args:
            assert any(b"imagetools" in _cmdline(c) for c in children)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 130, err[-1500:]
        assert "CANCELED" in err or "context canceled" in err
        left = {c for c in children if Path(f"/proc/{c}").exists()}
        assert not left, f"processes left behind: {left}"
    finally:
        silent.close()


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
        ok = subprocess.run(
            [sys.executable, "-m", "bakeguard", "--push"],
            env=env,
            cwd=project,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert ok.returncode == 0, ok.stderr[-1500:]
    silent = Silent()
    hang = tmp_path / "hang"
    hang.mkdir()
    try:
        (hang / "Dockerfile").write_text(f"FROM 127.0.0.1:{silent.port}/never/answers:1\n")
        (hang / "docker-bake.hcl").write_text(
            f'target "default" {{\n  tags = ["{stack.registry}/bakeguard/hang:1"]\n}}\n'
        )
        report = tmp_path / "report.json"
        p = subprocess.Popen(
            [sys.executable, "-m", "bakeguard", "--push", "--guard-report", str(report)],
            env=env,
            cwd=hang,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert silent.reached.wait(60), "bake never reached the registry"
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 130, err[-1500:]
        doc = json.loads(report.read_text())
        assert doc["exit_code"] == 130
        assert doc.get("fast_path", False) is fast
    finally:
        silent.close()
