"""Which binary bakeguard's own buildx calls run."""

from __future__ import annotations

import os
from pathlib import Path

from bakeguard.docker import PLUGIN_MARK, Docker


def _plugin(tmp_path: Path) -> str:
    p = tmp_path / "docker-buildx"
    p.write_text("#!/bin/sh\n")
    p.chmod(0o755)
    return str(p)


def test_own_buildx_calls_run_the_plugin_directly(tmp_path: Path) -> None:
    d = Docker("/usr/bin/docker", env={PLUGIN_MARK: "/usr/bin/docker", "PATH": "/bin"})
    d.buildx_path = _plugin(tmp_path)
    argv, unset = d._argv(["buildx", "imagetools", "create", "-t", "x"], direct=True)
    assert argv == (d.buildx_path, "imagetools", "create", "-t", "x")
    # running as `docker bakeguard` (itself a plugin), buildx must not think it is one
    assert unset == [PLUGIN_MARK]


def test_the_users_bake_and_other_commands_go_through_docker(tmp_path: Path) -> None:
    d = Docker("/usr/bin/docker", env={})
    d.buildx_path = _plugin(tmp_path)
    assert d._argv(["buildx", "bake", "--push"], direct=False)[0][0] == "/usr/bin/docker"
    assert d._argv(["image", "inspect", "x"], direct=True)[0][0] == "/usr/bin/docker"


def test_a_vanished_plugin_falls_back_to_docker(tmp_path: Path) -> None:
    d = Docker("/usr/bin/docker", env={})
    d.buildx_path = _plugin(tmp_path)
    os.unlink(d.buildx_path)
    assert d._argv(["buildx", "bake", "--print"], direct=True) == (
        ("/usr/bin/docker", "buildx", "bake", "--print"),
        [],
    )
