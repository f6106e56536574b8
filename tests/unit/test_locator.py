"""The locator runs a remembered buildx plugin only while the docker CLI would run the same
one, the same way; otherwise bake goes through docker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bakeguard import locator

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    docker = tmp_path / "bin" / "docker"
    docker.parent.mkdir()
    shutil.copy("/bin/true", docker)  # an ELF executable, as the real CLI is
    plugin = tmp_path / "config" / "cli-plugins" / "docker-buildx"
    plugin.parent.mkdir(parents=True)
    plugin.write_text(
        "#!/usr/bin/env python3\nimport json, os, sys\n"
        "with open(os.environ['PLUGIN_LOG'], 'w') as f:\n"
        "    json.dump({'argv': sys.argv, 'mark': os.environ.get("
        f"'{locator.PLUGIN_MARK}')}}, f)\n"
        "sys.exit(int(os.environ.get('PLUGIN_EXIT', '0')))\n"
    )
    plugin.chmod(0o755)
    return {
        "docker": str(docker),
        "plugin": str(plugin),
        "DOCKER_CONFIG": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "HOME": str(tmp_path),
    }


def _remember(env: dict[str, str], search: list[str] | None = None) -> bool:
    return locator.remember(env["docker"], env["plugin"], env, search)


def _bump(path: str) -> None:
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_remembered_plugin_is_found(env: dict[str, str]) -> None:
    assert _remember(env)
    assert locator.lookup(env["docker"], env) == env["plugin"]
    # another config folder is another docker setup
    assert locator.lookup(env["docker"], {**env, "DOCKER_CONFIG": "/elsewhere"}) is None


@pytest.mark.parametrize("changed", ["docker", "plugin", "config.json", "plugin folder"])
def test_any_change_the_cli_would_see_forgets_it(env: dict[str, str], changed: str) -> None:
    config = Path(env["DOCKER_CONFIG"], "config.json")
    config.write_text("{}")
    assert _remember(env)
    if changed == "config.json":  # e.g. `docker login`, or new cliPluginsExtraDirs
        config.write_text('{"cliPluginsExtraDirs": ["/opt/plugins"]}')
    elif changed == "plugin folder":  # a plugin installed where the CLI looks first
        (Path(env["DOCKER_CONFIG"]) / "cli-plugins" / "docker-other").write_text("")
    else:
        _bump(env[changed])
    assert locator.lookup(env["docker"], env) is None


def test_a_plugin_folder_created_later_forgets_it(env: dict[str, str], tmp_path: Path) -> None:
    extra = tmp_path / "extra-plugins"
    Path(env["DOCKER_CONFIG"], "config.json").write_text(
        json.dumps({"cliPluginsExtraDirs": [str(extra)]})
    )
    assert _remember(env)
    assert locator.lookup(env["docker"], env) == env["plugin"]
    extra.mkdir()  # the CLI would now search it first
    assert locator.lookup(env["docker"], env) is None


@pytest.mark.parametrize(
    "config",
    [
        '{"plugins": {"scout": {"hooks": "buildx build, buildx bake"}}}',  # CLI hooks
        "{not json",  # the CLI warns about it on every run
    ],
)
def test_setups_that_must_go_through_docker(env: dict[str, str], config: str) -> None:
    Path(env["DOCKER_CONFIG"], "config.json").write_text(config)
    assert not _remember(env)
    assert locator.lookup(env["docker"], env) is None


def test_a_docker_wrapper_script_is_kept(env: dict[str, str]) -> None:
    Path(env["docker"]).write_text('#!/bin/sh\nexec /usr/bin/docker "$@"\n')
    assert not _remember(env)


def test_the_variable_turns_it_off(env: dict[str, str]) -> None:
    assert _remember(env)
    assert locator.lookup(env["docker"], {**env, "BAKEGUARD_PLUGIN_DIRECT": "0"}) is None


def _guard_off(env: dict[str, str], *args: str) -> tuple[int, dict[str, object]]:
    log = Path(env["XDG_CACHE_HOME"]).parent / "plugin-log.json"
    child_env = {
        **{k: v for k, v in env.items() if k.isupper()},
        "BAKEGUARD_DOCKER": env["docker"],
        "PLUGIN_LOG": str(log),
        "PLUGIN_EXIT": "7",
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT / "src"),
    }
    p = subprocess.run([sys.executable, "-m", "bakeguard", "--guard=off", *args], env=child_env)
    return p.returncode, json.loads(log.read_text()) if log.exists() else {}


def test_guard_off_execs_the_plugin_as_docker_would(env: dict[str, str]) -> None:
    assert _remember(env)
    code, seen = _guard_off(env, "--push", "app")
    assert code == 7  # the plugin's exit code is the command's
    assert seen == {
        "argv": [env["plugin"], "buildx", "bake", "--push", "app"],
        "mark": "docker",
    }


def test_guard_off_without_a_remembered_plugin_runs_docker(env: dict[str, str]) -> None:
    code, seen = _guard_off(env, "--push", "app")
    assert (code, seen) == (0, {})  # /bin/true as docker; the plugin never ran


@pytest.mark.parametrize(
    "damage",
    [
        b"\x80\xff\x00garbage\n",
        b"[]",
        b"null",
        b"a\tb\tc\n",
        b"\0\t\0\t\0\t\0\t\0\t\0\t\0\t\0\t\0\n",
    ],
)
def test_a_damaged_file_is_forgotten_and_written_anew(env: dict[str, str], damage: bytes) -> None:
    """Not UTF-8 used to be a traceback on every run, `--guard=off` included."""
    assert _remember(env)
    path = Path(env["XDG_CACHE_HOME"]) / "bakeguard" / "probe" / "plugins"
    path.write_bytes(damage)
    assert locator.lookup(env["docker"], env) is None
    assert _remember(env)
    assert locator.lookup(env["docker"], env) == env["plugin"]


def test_a_line_cut_short_is_not_used(env: dict[str, str]) -> None:
    """A truncated line watches nothing (`all` of no pairs), so it named a plugin forever."""
    assert _remember(env)
    path = Path(env["XDG_CACHE_HOME"]) / "bakeguard" / "probe" / "plugins"
    line = path.read_text().split("\n")[0]
    path.write_text("\t".join(line.split("\t")[:3]) + "\n")
    assert locator.lookup(env["docker"], env) is None
