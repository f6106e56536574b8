"""Unit tests never reach a real docker: a Popen tripwire refuses any docker binary except a
fake one a test names in BAKEGUARD_DOCKER."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_real_popen_init = subprocess.Popen.__init__


@pytest.fixture(autouse=True)
def popen_tripwire(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def guarded(self: subprocess.Popen[Any], args: Any, *a: Any, **kw: Any) -> None:
        argv0 = str(args[0] if isinstance(args, (list, tuple)) else args).split()[0]
        allowed = os.environ.get("BAKEGUARD_DOCKER", "\0")
        if Path(argv0).name.startswith("docker") and argv0 != allowed:
            raise AssertionError(f"unit test tried to run {argv0}: use a fake docker")
        _real_popen_init(self, args, *a, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", guarded)
    monkeypatch.delenv("BUILDX_BUILDER", raising=False)
    monkeypatch.setenv("BAKEGUARD_LOG_FORMAT", "console")  # CI=true would pick JSON lines
    yield


FAKE_DOCKER = """#!/usr/bin/env python3
import json, os, sys, signal, time
log = os.environ["FAKE_DOCKER_LOG"]
with open(log, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_DOCKER_SLEEP") and "bake" in sys.argv and "--print" not in sys.argv:
    def on(sig, _):
        with open(log, "a") as f:
            f.write(json.dumps(["signal", sig]) + "\\n")
        sys.exit(128 + sig)
    signal.signal(signal.SIGINT, on)
    signal.signal(signal.SIGTERM, on)
    print("ready", flush=True)
    time.sleep(float(os.environ["FAKE_DOCKER_SLEEP"]))
sys.stdout.write(os.environ.get("FAKE_DOCKER_STDOUT", ""))
sys.stderr.write(os.environ.get("FAKE_DOCKER_STDERR", ""))
sys.exit(int(os.environ.get("FAKE_DOCKER_EXIT", "0")))
"""


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake `docker` recording its argv (one JSON list per line) in the returned log file."""
    exe = tmp_path / "fake-bin" / "docker"
    exe.parent.mkdir()
    exe.write_text(FAKE_DOCKER)
    exe.chmod(0o755)
    log = tmp_path / "docker-calls.jsonl"
    monkeypatch.setenv("BAKEGUARD_DOCKER", str(exe))
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    return log
