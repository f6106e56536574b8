"""`docker bakeguard` as a real docker CLI plugin."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import THREE, Stack, bake, bakeguard, platforms_at, run, unique_repo


def test_install_and_use_the_cli_plugin(stack: Stack, project: Path, tmp_path: Path) -> None:
    env = stack.private_config("newest", tmp_path)
    res = bakeguard(["--guard-install-plugin"], env, project)
    assert res.returncode == 0, res.stderr
    assert (Path(env["DOCKER_CONFIG"]) / "cli-plugins" / "docker-bakeguard").exists()
    listed = run(["docker", "--help"], env)
    assert "bakeguard*" in listed.stdout and "guarded and verified" in listed.stdout
    printed = run(["docker", "bakeguard", "--print"], env, project)
    assert printed.returncode == 0 and printed.stdout == bake(["--print"], env, project).stdout
    tag = f"localhost:5000/{unique_repo('plugin')}/app:v1"
    pushed = run(["docker", "bakeguard", "--push"], {**env, "TAG": tag}, project)
    assert pushed.returncode == 0, pushed.stderr[-2000:]
    assert "OK, 3/3" in pushed.stderr and platforms_at(tag, env) == THREE
