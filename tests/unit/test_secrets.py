"""Nothing secret at rest: bakeguard's cache keeps no value that may be secret (a build arg's,
a credential in a cache entry, a driver option), and every file it writes there is its
owner's alone (0600, in folders of 0700), whoever wrote the folder first."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bakeguard import cachekey, learned, locator, memo, probe
from bakeguard.bakeargs import parse_bake
from bakeguard.docker import Docker, Result
from bakeguard.options import GuardOptions

TOKEN = "npm_0123456789abcdef"


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def target(**attrs: Any) -> dict[str, Any]:
    return {"target": {"app": {"tags": ["r/app:v1"], "platforms": ["linux/amd64"], **attrs}}}


@pytest.mark.parametrize(
    "attrs",
    [
        {"args": {"NPM_TOKEN": TOKEN}},
        {"args": {"EMPTY": "", "NPM_TOKEN": TOKEN}},
        {"cache-to": ["type=gha,token=xyz,mode=max"]},
        {"cache-from": [{"type": "s3", "secret_access_key": "xyz", "region": "eu"}]},
        {"context": "https://user:pass@git.example/o/r.git"},
        {"contexts": {"base": "https://x-access-token:abc@git.example/o/r.git#main"}},
        {"args": "not a mapping"},
    ],
)
def test_what_may_be_secret(attrs: dict[str, Any]) -> None:
    assert cachekey.holds_secrets(target(**attrs))


@pytest.mark.parametrize(
    "attrs",
    [
        {},
        {"args": {"UNSET": None, "EMPTY": ""}},
        {"secret": ["id=npm,env=NPM_TOKEN"], "ssh": ["default"]},  # where from, not values
        {"cache-to": ["type=registry,ref=r/cache,mode=max"]},
        {"context": "https://git.example/o/r.git", "output": ["type=image,push=true"]},
    ],
)
def test_what_is_kept(attrs: dict[str, Any]) -> None:
    assert not cachekey.holds_secrets(target(**attrs))


def test_cache_files_are_the_owners_alone(tmp_path: Path) -> None:
    """0600 files in 0700 folders, from bakeguard's folder down; folders an older bakeguard
    made 0755 are closed; a temporary file left behind does not keep its mode."""
    base = tmp_path / "cache"
    (base / "bakeguard" / "probe").mkdir(parents=True)
    for d in (base / "bakeguard", base / "bakeguard" / "probe"):
        d.chmod(0o755)
    target_file = base / "bakeguard" / "probe" / "x.json"
    stale = Path(f"{target_file}.{os.getpid()}.tmp")
    stale.write_text("old")
    stale.chmod(0o644)
    locator.write_atomic(str(target_file), "{}")
    new = base / "bakeguard" / "definitions-2" / "y.json"
    locator.write_atomic(str(new), "{}")
    assert target_file.read_text() == "{}" and not stale.exists()
    assert mode(target_file) == mode(new) == 0o600
    assert {mode(d) for d in (base / "bakeguard", target_file.parent, new.parent)} == {0o700}


def test_a_new_cache_home_is_private(tmp_path: Path) -> None:
    f = tmp_path / "home" / "cache" / "bakeguard" / "probe" / "plugins"
    locator.write_atomic(str(f), "x\n")
    assert mode(f) == 0o600 and mode(tmp_path / "home" / "cache") == 0o700


def test_a_definition_that_may_hold_a_secret_is_not_cached(tmp_path: Path) -> None:
    """Not written (the next run prints it again), an earlier copy removed, and the folder
    older bakeguards cached every definition in (with its args) removed."""
    old = tmp_path / "bakeguard" / cachekey.OLD_DEFINITIONS
    old.mkdir(parents=True)
    (old / "k.json").write_text(json.dumps(target(args={"T": TOKEN})))
    path = tmp_path / "bakeguard" / cachekey.DEFINITIONS / "k.json"
    cachekey.write_definition(str(path), json.dumps(target()), target())
    assert path.exists() and mode(path) == 0o600 and not old.exists()
    with_args = target(args={"NPM_TOKEN": TOKEN})
    cachekey.write_definition(str(path), json.dumps(with_args), with_args)
    assert not path.exists()


class FakeDocker(Docker):
    def __init__(self) -> None:
        super().__init__("/nonexistent/docker")


def test_a_split_decision_with_a_secret_is_not_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The split's fast path bakes the remembered generated definition as it is: one that
    holds a build arg's value is not remembered (such a run takes the full path); older
    bakeguards' decisions, which kept the args, are removed."""
    monkeypatch.chdir(tmp_path)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": os.environ["PATH"]}
    opts, bake = GuardOptions(), parse_bake(["--push"])
    folder = Path(cachekey.cache_dir(env))
    folder.mkdir(parents=True)
    (folder / f"old{memo.OLD_SPLIT_SUFFIX}").write_text(TOKEN)
    record = {"mode": "split"}
    said = [("info", ["splitting"])]
    memo.remember_split(opts, bake, FakeDocker(), env, said, record, target(), True)
    kept = list(folder.glob(f"*{memo.SPLIT_SUFFIX}"))
    assert len(kept) == 1 and mode(kept[0]) == 0o600
    assert not list(folder.glob(f"*{memo.OLD_SPLIT_SUFFIX}"))
    with_args = target(args={"NPM_TOKEN": TOKEN})
    memo.remember_split(opts, bake, FakeDocker(), env, said, record, with_args, True)
    assert not list(folder.glob(f"*{memo.SPLIT_SUFFIX}"))  # (the same key: the entry is gone)


def test_remembered_profiles_are_the_owners_alone(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    assert learned.learn(env, "reg.example", "docker-v2", "400 manifest invalid")
    assert mode(Path(learned.path(env))) == 0o600 and mode(tmp_path / "bakeguard") == 0o700


def test_the_probe_cache_keeps_no_driver_option(tmp_path: Path) -> None:
    """`docker buildx inspect` prints the driver's options (an S3 cache's keys in env.*);
    the probe reads none of them, and its cache keeps none."""
    inspect = (
        "Name: b\nDriver: docker-container\n\nNodes:\nName: b0\nEndpoint: unix:///x\n"
        f'Driver Options: env.AWS_SECRET_ACCESS_KEY="{TOKEN}" image="moby/buildkit"\n'
        "Status: running\nBuildKit version: v0.20.0\nPlatforms: linux/amd64\n"
    )
    answers = {
        "version": "github.com/docker/buildx v0.21.1 abc",
        "inspect": inspect,
        "info": '{"driver_status":[],"registry":{},"plugins":[]}',
    }

    class Answering(FakeDocker):
        def capture(self, args: Sequence[str], *a: Any, **k: Any) -> Result:
            key = {"version": "version", "inspect": "inspect"}.get(args[1], "info")
            return Result(tuple(args), 0, answers[key], "")

    env = {"XDG_CACHE_HOME": str(tmp_path), "PATH": os.environ["PATH"]}
    found = probe.probe(Answering(), "b", env)
    assert found.driver == "docker-container" and found.builder and found.builder.nodes
    files = [f for f in tmp_path.rglob("*.json")]
    assert files and not [f for f in files if TOKEN.encode() in f.read_bytes()]
    again = probe.cached(Answering(), "b", env)
    assert again is not None and again.builder == found.builder
