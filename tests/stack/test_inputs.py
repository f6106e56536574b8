"""bakeguard's own inputs on the real stack: a cache folder damaged file by file does not stop
a real push (guarded, split or `--guard=off`), a split suffix that bake's target names
would refuse still makes valid per-platform tags, and a definition on stdin or a FIFO is
guarded as a file is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from tests.front import Front
from tests.helpers import THREE, Stack, bakeguard, platforms_at, unique_repo

DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "garbage": lambda data: b"\x80\xff\x00 not what bakeguard wrote \xfe",
    "list": lambda data: b"[]",
    "null": lambda data: b"null",
    "wrong types": lambda data: b'{"at": "soon", "raw": 1, "target": [], "said": {}}',
    "empty": lambda data: b"",
    "cut in half": lambda data: data[: len(data) // 2],
}


def test_a_damaged_cache_does_not_stop_a_real_push(
    stack: Stack, project: Path, tmp_path: Path
) -> None:
    """Every file in the cache folder damaged alike (not UTF-8, `[]`, `null`, wrong types,
    empty, cut in half): each run works as with no cache, `--guard=off` too."""
    cache = tmp_path / "cache"
    tag = f"localhost:5000/{unique_repo('cache')}/app:v1"
    env = stack.buildx("newest", TAG=tag, XDG_CACHE_HOME=str(cache))
    runs = (["--push"], ["--push", "--guard-split=always"], ["--guard=off", "--push"])
    for args in runs:  # fills the cache: probe, verdict, split entry, table, definitions
        res = bakeguard(args, env, project)
        assert res.returncode == 0, res.stderr[-3000:]
    names = {f.name for f in cache.rglob("*")}
    assert "plugins" in names and any(n.endswith(".split-2.json") for n in names), names
    for damage, make in DAMAGE.items():
        for f in (f for f in cache.rglob("*") if f.is_file()):
            f.write_bytes(make(f.read_bytes()))
        for args in runs:
            res = bakeguard(args, env, project)
            assert res.returncode == 0, (damage, args, res.stderr[-3000:])
            assert "Traceback" not in res.stderr, (damage, args, res.stderr[-3000:])
            if "--guard=off" not in args:
                assert f"verify {tag} (target app): OK, 3/3 platforms" in res.stderr
    assert platforms_at(tag, env) == THREE


def test_a_dot_in_the_split_suffix_makes_valid_tags(
    stack: Stack, project: Path, tmp_path: Path
) -> None:
    """A tag allows '.', a bake target's name does not: the generated per-platform targets
    were refused by bake."""
    repo = f"{unique_repo('dot')}/app"
    env = stack.buildx("newest", TAG=f"localhost:5000/{repo}:v1")
    res = bakeguard(
        ["--push", "--guard-split=always", "--guard-split-suffix", ".{arch}{variant}"],
        env,
        project,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    with urllib.request.urlopen(f"http://127.0.0.1:5000/v2/{repo}/tags/list", timeout=10) as r:
        tags = sorted(json.load(r)["tags"])
    assert tags == ["v1", "v1.amd64", "v1.arm-v7", "v1.arm64"]
    assert platforms_at(f"localhost:5000/{repo}:v1", env) == THREE


def bakeguard_fed(
    args: list[str], env: Mapping[str, str], cwd: Path, definition: bytes
) -> subprocess.CompletedProcess[bytes]:
    """bakeguard ARGS with `definition` on its stdin, output as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "bakeguard", *args],
        env=dict(env),
        cwd=cwd,
        input=definition,
        capture_output=True,
        timeout=240,
    )


@pytest.mark.parametrize("how", ["-", "/dev/stdin", "fifo"])
def test_a_definition_on_stdin_is_guarded_split_and_verified(
    stack: Stack, project: Path, front: Callable[..., Front], tmp_path: Path, how: str
) -> None:
    """#23 item 8: buildx v0.21.1 behind the MSR front, the definition on stdin (or a FIFO):
    the advisory, the split and a verified whole tag, as with a file. The guard used to be off
    without a word (`bake --print` read nothing) and the tag held one platform."""
    f = front(msr=True)
    tag = f"localhost:{f.port}/{unique_repo('stdin')}/app:v1"
    own_tmp = tmp_path / "tmp"  # bakeguard's TMPDIR: the stream's copy is gone afterwards
    own_tmp.mkdir()
    env = stack.buildx("v0.21.1", TAG=tag, TMPDIR=str(own_tmp))
    definition = (project / "docker-bake.hcl").read_bytes()
    (project / "docker-bake.hcl").unlink()  # only what comes in on the stream
    if how == "fifo":
        fifo = tmp_path / "definition.hcl"
        os.mkfifo(fifo)

        def write_once() -> None:
            with open(fifo, "wb") as w:
                w.write(definition)

        threading.Thread(target=write_once, daemon=True).start()
        res = bakeguard_fed(["--push", "-f", str(fifo)], env, project, b"")
    else:
        res = bakeguard_fed(["--push", "-f", how], env, project, definition)
    err = res.stderr.decode()
    assert res.returncode == 0, err[-3000:]
    assert "[docker-driver-double-push]" in err
    assert "splitting per platform (advisory docker-driver-double-push)" in err
    assert f"verify {tag} (target app): OK, 3/3 platforms" in err
    assert platforms_at(tag, env) == THREE
    assert not list(own_tmp.glob("bakeguard-definition-*"))


def test_print_with_stdin_is_bakes_own_output(stack: Stack, project: Path) -> None:
    env = stack.buildx("v0.21.1", TAG="localhost:5000/bakeguard/print:v1")
    definition = (project / "docker-bake.hcl").read_bytes()
    for args in (["--print", "-f", "-"], ["--print", "--push", "-f", "-"]):
        theirs = subprocess.run(
            ["docker", "buildx", "bake", *args],
            env=dict(env),
            cwd=project,
            input=definition,
            capture_output=True,
            timeout=120,
        )
        ours = bakeguard_fed(args, env, project, definition)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), args
        assert theirs.returncode == 0 and b'"linux/arm/v7"' in theirs.stdout
