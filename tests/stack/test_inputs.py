"""bakeguard's own inputs on the real stack: a cache folder damaged file by file does not stop
a real push (guarded, split or `--guard=off`), and a split suffix that bake's target names
would refuse still makes valid per-platform tags."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

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
