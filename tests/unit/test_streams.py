"""A bake definition from a stream (#23, item 8): `-f -`, `-f /dev/stdin`, a FIFO and `-f
<(...)` are read once, and `bake --print` and the build get the same bytes, so the guard works
as with a file (it used to be off without a word: `bake --print` read nothing). The bytes sit
in a private folder (0700, files 0600) that is gone when the run ends; `--print` stays bake's
own output; a stream larger than the cap is exit 2 naming it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import reports
from tests.unit import bakestub

PLATFORMS = ("linux/amd64", "linux/arm64")


@pytest.fixture
def registry() -> Iterator[tuple[bakestub.Registry, str]]:
    reg = bakestub.Registry()
    for address in bakestub.serve(reg):
        yield reg, address


def ground(tmp_path: Path, registry: tuple[bakestub.Registry, str]) -> tuple[str, dict[str, str]]:
    """A definition whose tag the registry holds whole; the environment."""
    reg, address = registry
    bakestub.push_index(reg, "o/app", "v1", PLATFORMS)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    return bakestub.definition([f"{address}/o/app:v1"], PLATFORMS), bakestub.environment(tmp_path)


def leftovers(tmp_path: Path) -> list[str]:
    return [p.name for p in tmp_path.iterdir() if p.name.startswith("bakeguard-definition-")]


def assert_every_bake_read(env: dict[str, str], definition: str) -> list[dict[str, Any]]:
    prints, builds = bakestub.bakes(env)
    assert prints and builds, bakestub.calls(env)
    for call in prints + builds:
        read = call["read"]
        assert isinstance(read, dict) and list(read.values()) == [definition], call
    return prints + builds


@pytest.mark.parametrize(
    "args",
    [["-f", "-"], ["--file=-"], ["-Df", "-"], ["-f", "/dev/stdin"], ["--file", "/dev/fd/0"]],
    ids=["-f -", "--file=-", "-Df -", "/dev/stdin", "/dev/fd/0"],
)
def test_a_definition_on_stdin_is_guarded_and_verified_like_a_file(
    tmp_path: Path, registry: tuple[bakestub.Registry, str], args: list[str]
) -> None:
    definition, env = ground(tmp_path, registry)
    report = tmp_path / "report.json"
    res = bakestub.bakeguard(
        ["--push", *args, f"--guard-report={report}"], env, tmp_path, stdin=definition.encode()
    )
    assert res.returncode == 0, res.stderr
    _, address = registry
    assert f"verify {address}/o/app:v1 (target app): OK, 2/2 platforms" in res.stderr
    assert reports.load(report)["verification"][0]["ok"]
    for call in assert_every_bake_read(env, definition):
        assert call["argv"][2:4] == ["--push", *args][:2]  # the arguments as written
        for mode, folder, where in call["modes"].values():
            assert (mode, folder) == (0o600, 0o700), (oct(mode), oct(folder), where)
    assert leftovers(tmp_path) == []


def test_a_fifo_is_read_once_and_every_bake_reads_a_private_copy(
    tmp_path: Path, registry: tuple[bakestub.Registry, str]
) -> None:
    """bake would block on the FIFO's second opening (its writer wrote once)."""
    definition, env = ground(tmp_path, registry)
    fifo = tmp_path / "defs.hcl"  # (not .json: the report check reads every .json here)
    os.mkfifo(fifo)

    def write_once() -> None:
        with open(fifo, "w") as f:
            f.write(definition)

    threading.Thread(target=write_once, daemon=True).start()
    res = bakestub.bakeguard(["--push", "-f", str(fifo)], env, tmp_path, timeout=30)
    assert res.returncode == 0, res.stderr
    assert "OK, 2/2 platforms" in res.stderr
    for call in assert_every_bake_read(env, definition):
        (path,) = call["read"]
        assert path != str(fifo) and Path(path).name == "defs.hcl"  # (bake reads the suffix)
    assert leftovers(tmp_path) == [] and stat.S_ISFIFO(fifo.stat().st_mode)


def test_process_substitution_reaches_bake(
    tmp_path: Path, registry: tuple[bakestub.Registry, str]
) -> None:
    """`bakeguard -f <(...)`: a pipe on /dev/fd/N that bake, a child that does not inherit
    that descriptor, could not even open."""
    definition, env = ground(tmp_path, registry)
    r, w = os.pipe()
    os.write(w, definition.encode())
    os.close(w)
    p = subprocess.run(
        [sys.executable, "-m", "bakeguard", "--push", "-f", f"/dev/fd/{r}"],
        env=env,
        cwd=tmp_path,
        pass_fds=[r],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    os.close(r)
    assert p.returncode == 0, p.stderr
    assert "OK, 2/2 platforms" in p.stderr
    assert_every_bake_read(env, definition)


def test_print_and_list_with_stdin_stay_bakes_own_output(tmp_path: Path) -> None:
    env = bakestub.environment(tmp_path)
    definition = bakestub.definition(["r.example/o/app:v1"]) + "\n\n"
    for args in (["--print"], ["--print", "--push"], ["--list=targets"]):
        res = bakestub.bakeguard([*args, "-f", "-"], env, tmp_path, stdin=definition.encode())
        assert res.returncode == 0, res.stderr
        if "--print" in args:
            assert res.stdout == definition and res.stderr == ""


def test_each_run_reads_its_own_stdin_not_a_cached_definition(
    tmp_path: Path, registry: tuple[bakestub.Registry, str]
) -> None:
    definition, env = ground(tmp_path, registry)
    reg, address = registry
    bakestub.push_index(reg, "o/other", "v2", PLATFORMS)
    other = bakestub.definition([f"{address}/o/other:v2"], PLATFORMS)
    for text, tag in ((definition, "o/app:v1"), (other, "o/other:v2")):
        res = bakestub.bakeguard(["--push", "-f", "-"], env, tmp_path, stdin=text.encode())
        assert res.returncode == 0, res.stderr
        assert f"verify {address}/{tag} (target app): OK" in res.stderr


def test_a_stream_beyond_the_cap_is_exit_2_naming_it(tmp_path: Path) -> None:
    env = bakestub.environment(tmp_path)
    huge = b"#" * (16 * 1024 * 1024 + 1)
    res = bakestub.bakeguard(["--push", "-f", "-"], env, tmp_path, stdin=huge)
    assert res.returncode == 2, res.stderr
    assert "read from stdin is larger than 16 MiB" in res.stderr
    assert bakestub.bakes(env) == ([], []) and leftovers(tmp_path) == []


def test_only_the_stream_values_are_replaced_every_other_token_as_written(tmp_path: Path) -> None:
    from bakeguard import streams
    from bakeguard.bakeargs import parse_bake

    args = ["-Df", "a.hcl", "--file=X", "--set", "*.tags=x", "-fX", "--file", "X", "t", "--", "-f"]
    got = streams._replaced(parse_bake(args), {"X": "/tmp/c/X"})
    assert got.argv == [
        "-Df",
        "a.hcl",
        "--file=/tmp/c/X",
        "--set",
        "*.tags=x",
        "-f/tmp/c/X",
        "--file",
        "/tmp/c/X",
        "t",
        "--",
        "-f",
    ]
