"""On a terminal, bake keeps its own live progress display under bakeguard (bakeguard reads
bake's stderr through a pseudo-terminal of its own, so bake still sees a TTY)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from tests.helpers import Stack, unique_repo


def under_pty(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, bytes]:
    master, slave = pty.openpty()
    p = subprocess.Popen(
        argv, env=env, cwd=cwd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            p.kill()
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(timeout=60), out


def test_live_progress_survives_on_a_tty(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY blob.bin /\nCOPY blob2.bin /\n")
    (tmp_path / "blob.bin").write_bytes(os.urandom(8 * 1024 * 1024))
    (tmp_path / "blob2.bin").write_bytes(os.urandom(8 * 1024 * 1024))
    (tmp_path / "docker-bake.hcl").write_text(
        'variable "TAG" {}\ntarget "default" {\n'
        '  platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"]\n  tags = [TAG]\n}\n'
    )
    env = {**stack.buildx("newest"), "TERM": "xterm-256color"}
    env.pop("CI", None)
    outputs = {}
    for who in ("plain", "guarded"):
        tag = f"localhost:5000/{unique_repo('tty')}/app:{who}"
        argv = (
            ["docker", "buildx", "bake", "--push"]
            if who == "plain"
            else [sys.executable, "-m", "bakeguard", "--push"]
        )
        code, out = under_pty(argv, {**env, "TAG": tag}, tmp_path)
        assert code == 0, out[-3000:].decode(errors="replace")
        outputs[who] = out
    for who, out in outputs.items():
        assert b"[+] Building" in out, who  # buildx's TTY display, not plain "#1 ..." lines
        assert b"\x1b[" in out, who  # drawn with cursor controls, live
        assert b"#1 [internal] load" not in out, who
    assert b"bakeguard: verify" in outputs["guarded"]
