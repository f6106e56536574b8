"""bakeguard's own inputs through its real entry point (`bakeguard.cli.main`, in process,
with a fake docker and a registry that refuses everything): bad input is exit 2 naming the
problem and the fix, before anything runs; a damaged cache is a miss, rewritten by the next
run. Then fuzzing: random `--guard-*` flags and values, `BAKEGUARD_*` variables, split
suffixes, advisory files, merge folders and cache contents; whatever the input, the exit code
is one of bakeguard's (0, 2, 3, 4) or bake's own, and nothing escapes as a traceback.
Derandomized and bounded, so CI runs the same examples every time."""

from __future__ import annotations

import contextlib
import http.server
import json
import math
import os
import shutil
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakeguard import learned
from bakeguard.cli import main

BAKE_EXIT = 17  # the fake bake's failure code: bake's own codes pass through
FUZZ = settings(
    max_examples=1500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# A docker that answers every command bakeguard runs, at a shell's start-up cost.
FAKE_DOCKER = r"""#!/bin/sh
[ -n "$FUZZ_LOG" ] && echo "$*" >> "$FUZZ_LOG"
case "$1 $2" in
"buildx version") echo "github.com/docker/buildx v0.38.2 0123456789ab"; exit 0 ;;
"buildx inspect")
  printf 'Name: fuzz\nDriver: %s\n\nNodes:\nName: fuzz0\nEndpoint: unix:///x\n' "$FUZZ_DRIVER"
  printf 'Status: running\nBuildKit version: v0.34.2\nPlatforms: linux/amd64, linux/arm64\n'
  exit 0 ;;
"info --format")
  printf '{"driver_status":[["driver-type","io.containerd.snapshotter.v1"]],'
  printf '"registry":{},"plugins":[]}\n'
  exit 0 ;;
"image inspect") echo "sha256:$(printf '%064d' 1)"; exit 0 ;;
"buildx imagetools") exit 0 ;;
"image rm") exit 0 ;;
esac
push=""
for a in "$@"; do
  case "$a" in --push|--push=true) push=1 ;; esac
done
for a in "$@"; do
  if [ "$a" = "--print" ]; then
    if [ -n "$push" ]; then cat "$FUZZ_DEFINITION_PUSH"; else cat "$FUZZ_DEFINITION"; fi
    exit 0
  fi
done
exit "${FUZZ_BAKE_EXIT:-0}"
"""

PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7"]
REGISTRY = "@REGISTRY@"  # in files and arguments: the address of `refusing_registry`
REMEMBERED = "@REMEMBERED@"  # among an example's files: the remembered registry profiles


class Refusing(http.server.BaseHTTPRequestHandler):
    """A registry that answers 403 at once: verification fails fast (exit 3), never waits."""

    def refuse(self) -> None:
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_PUT = do_POST = refuse

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def refusing_registry() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def definition(push: bool) -> str:
    target: dict[str, Any] = {
        "context": ".",
        "dockerfile": "Dockerfile",
        "platforms": PLATFORMS,
        "tags": [f"{REGISTRY}/fuzz/app:v1"],
    }
    if push:
        target["output"] = [{"type": "image", "push": "true"}]
    return json.dumps({"group": {"default": {"targets": ["app"]}}, "target": {"app": target}})


def fake_docker_ground(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    definition: Path,
    definition_push: Path,
    **env: str,
) -> None:
    """The fake docker (FAKE_DOCKER) on a clean environment: it prints `definition` for a
    `bake --print` and `definition_push` for one with --push; a private cache and docker
    config; the working directory `tmp_path/work`. Other fake-docker grounds build on it."""
    exe = tmp_path / "bin" / "docker"
    exe.parent.mkdir()
    exe.write_text(FAKE_DOCKER)
    exe.chmod(0o755)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    for k in list(os.environ):
        if k.startswith(("BAKEGUARD_", "BUILDX_", "GITHUB_", "GITLAB")) or k == "CI":
            monkeypatch.delenv(k)
    base = {
        "BAKEGUARD_DOCKER": str(exe),
        "BAKEGUARD_LOG_FORMAT": "console",
        "FUZZ_DEFINITION": str(definition),
        "FUZZ_DEFINITION_PUSH": str(definition_push),
        "FUZZ_DRIVER": "docker-container",
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "TMPDIR": str(tmp_path),
    }
    for k, v in {**base, **env}.items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def ground(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusing_registry: str) -> Path:
    (tmp_path / "def.json").write_text(definition(False).replace(REGISTRY, refusing_registry))
    (tmp_path / "def-push.json").write_text(definition(True).replace(REGISTRY, refusing_registry))
    (tmp_path / "registry").write_text(refusing_registry)
    fake_docker_ground(
        tmp_path,
        monkeypatch,
        tmp_path / "def.json",
        tmp_path / "def-push.json",
        FUZZ_LOG=str(tmp_path / "docker.log"),
    )
    return tmp_path


def fresh(ground: Path, files: dict[str, bytes]) -> Path:
    """A fresh folder (the working directory) holding `files`, and an empty cache."""
    shutil.rmtree(ground / "cache", ignore_errors=True)
    path = ground / "example"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    (path / "a-file").write_text("x")
    registry = (ground / "registry").read_bytes()
    cache = {"XDG_CACHE_HOME": str(ground / "cache")}
    for name, content in files.items():
        # (the remembered profiles are in bakeguard's cache, not the working directory)
        where = Path(learned.path(cache)) if name == REMEMBERED else path / name
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_bytes(content.replace(REGISTRY.encode(), registry))
    os.chdir(path)
    return path


def run_cli(
    argv: list[str], env: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """bakeguard ARGV, in process: (exit code, stderr). An exception that leaves main() is
    what the command would print as a traceback."""
    capfd.readouterr()
    saved = dict(os.environ)
    os.environ.update(env)
    before = set(threading.enumerate())
    try:
        code = main(argv)
    except Exception:
        pytest.fail(f"traceback for {argv} {env}:\n{traceback.format_exc()}")
    finally:
        # the run's background threads (a niced `bake --print`, imports) end with it, as
        # the command's own would when it exits: none may write into the next example
        for t in set(threading.enumerate()) - before:
            with contextlib.suppress(RuntimeError):  # (one still starting)
                t.join(timeout=30)
        os.environ.clear()
        os.environ.update(saved)
    out, err = capfd.readouterr()
    assert "Traceback (most recent call last)" not in out + err, (argv, env, err)
    return code, err


# ---------------------------------------------------------------- strategies

ODD_TEXT = st.text(alphabet="-_.:/@{}[] =,xyzXYZ09\t", max_size=8)
# a suffix of the known placeholders and tag characters: mostly valid, but it may name no
# placeholder, give two platforms one tag, or make a tag too long
GOOD_SUFFIX = st.lists(
    st.sampled_from(["{os}", "{arch}", "{variant}", "-", "_", ".", "x", "v2", "x" * 120]),
    min_size=1,
    max_size=4,
).map("".join)
BOOLS = st.sampled_from(["true", "false", "1", "0", "yes", "maybe", ""])
ODD_SUFFIX = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "{os}",
                "{arch}",
                "{variant}",
                "{bogus}",
                "{",
                "}",
                "{0}",
                "{}",
                "{os!r}",
                "{arch:>9}",
                "{os.x}",
                "-",
                "_",
                ".",
                "/",
                ":",
                "UP",
                "x" * 130,
            ]
        ),
        ODD_TEXT,
    ),
    max_size=5,
).map("".join)
SUFFIX = st.one_of(GOOD_SUFFIX, GOOD_SUFFIX, ODD_SUFFIX)
TIMEOUT = st.one_of(
    st.sampled_from(["0", "1", "0.5", "nan", "inf", "-inf", "-1", "1e999", "soon", "", "1e308"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
PATH_KIND = st.sampled_from(
    ["-", "new.json", "a-file", ".", "missing/r.json", "a-file/r.json", "digests", ""]
)
SHARD = st.sampled_from(["linux/amd64", "linux/arm64,linux/arm/v7", "windows/amd64", "", ","])
COMPAT = st.sampled_from(["docker-v2", "oci", "no-attestations", "bogus", "127.0.0.1=oci", "="])
GUARD_VALUES: dict[str, st.SearchStrategy[str]] = {
    "--guard": st.sampled_from(["warn", "auto", "strict", "off", "loud", ""]),
    "--guard-split": st.sampled_from(["auto", "always", "never", "sometimes"]),
    "--guard-split-suffix": SUFFIX,
    "--guard-verify": BOOLS,
    "--guard-verify-timeout": TIMEOUT,
    "--guard-report": PATH_KIND,
    "--guard-verify-only": BOOLS,
    "--guard-doctor": BOOLS,
    "--guard-plan": BOOLS,
    "--guard-advisories": BOOLS,
    "--guard-shard": SHARD,
    "--guard-digests": PATH_KIND,
    "--guard-merge": PATH_KIND,
    "--guard-compat": COMPAT,
    "--guard-compat-memory": BOOLS,
    "--guard-forget-compat": st.sampled_from(["all", REGISTRY, "localhost:1", ",", "", " "]),
    "--guard-verbose": BOOLS,
    "--guard-version": BOOLS,
    "--guard-bogus": ODD_TEXT,
}
PATH_OPTIONS = ("--guard-report", "--guard-digests", "--guard-merge")
VARIABLES: dict[str, st.SearchStrategy[str]] = {
    "BAKEGUARD_GUARD": GUARD_VALUES["--guard"],
    "BAKEGUARD_SPLIT": GUARD_VALUES["--guard-split"],
    "BAKEGUARD_SPLIT_SUFFIX": SUFFIX,
    "BAKEGUARD_VERIFY": BOOLS,
    "BAKEGUARD_VERIFY_TIMEOUT": TIMEOUT,
    "BAKEGUARD_REPORT": PATH_KIND,
    "BAKEGUARD_SHARD": SHARD,
    "BAKEGUARD_DIGESTS": PATH_KIND,
    "BAKEGUARD_COMPAT": COMPAT,
    "BAKEGUARD_COMPAT_MEMORY": BOOLS,
    "BAKEGUARD_VERBOSE": BOOLS,
    "BAKEGUARD_PROBE_TTL": TIMEOUT,
    "BAKEGUARD_LOG_FORMAT": st.sampled_from(["console", "json", "xml", ""]),
    "BAKEGUARD_PLUGIN_DIRECT": st.sampled_from(["0", "1", "x"]),
    "BAKEGUARD_ADVISORIES": st.sampled_from(["advisories.toml", "missing.toml", ".", "a-file"]),
}
BAKE_ARGS = st.sampled_from(
    [[], ["--push"], ["app"], ["--push", "app"], ["--print"], ["--load", "--push"], ["nope"]]
)

# JSON values of every type, for a key that should hold something else
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=5,
)


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if math.isfinite(v) else "nan"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    return '""'  # None: TOML has no null


GOOD_ADVISORY: dict[str, Any] = {
    "id": "fuzz-1",
    "title": "t",
    "level": "warning",
    "affected": ">=0.1",
    "mitigation": "verify",
    "symptom": "s",
    "fix": "f",
    "references": ["https://example.invalid/1"],
    "when": {"push": True, "min_platforms": 2, "drivers": ["docker"]},
}
TOML_VALUES = st.recursive(
    st.booleans() | st.integers(-5, 5) | st.text(max_size=6) | st.sampled_from([">=0.1", "docker"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=4,
)
ADVISORY_KEYS = st.sampled_from(
    [*GOOD_ADVISORY, "confidence", "fixed", "extra", *(f"when.{k}" for k in GOOD_ADVISORY["when"])]
    + ["when.outputs", "when.buildkit", "when.multi_node", "when.phase_of_moon"]
)


@st.composite
def advisory_file(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["entries", "garbage", "top-level"]))
    if kind == "garbage":
        return draw(st.binary(max_size=40))
    if kind == "top-level":
        return draw(st.sampled_from([b"advisory = 1\n", b"advisory = [1, 2]\n", b'x = "y"\n']))
    text = ""
    for _ in range(draw(st.integers(1, 2))):
        entry = json.loads(json.dumps(GOOD_ADVISORY))
        for key in draw(st.lists(ADVISORY_KEYS, max_size=3)):
            head, _, sub = key.partition(".")
            if sub and not isinstance(entry.get("when"), dict):
                entry["when"] = {}
            where = entry["when"] if sub else entry
            name = sub or head
            if draw(st.booleans()):
                where.pop(name, None)
            else:
                where[name] = draw(TOML_VALUES)
        text += "[[advisory]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in entry.items())
    return text.encode()


def digest_doc(platform: str) -> dict[str, Any]:
    return {
        "schema": "bakeguard-digest/1",
        "target": "app",
        "platform": platform,
        "platforms": PLATFORMS,
        "source": f"{REGISTRY}/fuzz/app@sha256:{platform.count('/'):064d}",
        "refs": [f"{REGISTRY}/fuzz/app:v1"],
        "annotations": [],
    }


@st.composite
def digest_file(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["good", "mutated", "mutated", "json", "garbage", "other"]))
    if kind == "garbage":
        return draw(st.binary(max_size=30))
    if kind == "json":
        return json.dumps(draw(ANY_JSON)).encode()
    if kind == "other":
        return json.dumps({"schema": draw(st.sampled_from(["x/1", "bakeguard-digest/9"]))}).encode()
    doc = digest_doc(draw(st.sampled_from(PLATFORMS)))
    if kind == "mutated":
        key = draw(st.sampled_from(sorted(doc)))
        if draw(st.booleans()):
            del doc[key]
        else:
            doc[key] = draw(ANY_JSON)
    return json.dumps(doc).encode()


@st.composite
def guard_inputs(draw: st.DrawFn) -> tuple[list[str], dict[str, str], dict[str, bytes]]:
    """(argv, variables, files to write in the example's folder). Each example leans on one
    kind of input (options, an advisory file, a merge folder, the split), with random options
    and variables beside it."""
    focus = draw(st.sampled_from(["options", "advisories", "merge", "split"]))
    argv: list[str] = list(draw(BAKE_ARGS))
    env: dict[str, str] = {"FUZZ_DRIVER": draw(st.sampled_from(["docker", "docker-container"]))}
    if focus == "advisories":
        env["BAKEGUARD_ADVISORIES"] = "advisories.toml"
        argv += draw(st.sampled_from([["--push"], ["--guard-advisories"], ["--guard-doctor"]]))
    elif focus == "merge":
        argv = ["--guard-merge", "digests"]
    elif focus == "split":
        argv = ["--push", "--guard-split=always", "--guard-split-suffix", draw(SUFFIX)]
        if draw(st.booleans()):
            argv += ["--guard-shard", draw(SHARD), "--guard-digests", "digests"]
    for flag in draw(st.lists(st.sampled_from(sorted(GUARD_VALUES)), max_size=2, unique=True)):
        value = draw(GUARD_VALUES[flag])
        form = draw(st.sampled_from(["=", " ", "bare"]))
        if form == "bare" and flag not in PATH_OPTIONS:
            argv.append(flag)
        elif form == " ":
            argv += [flag, value]
        else:
            argv.append(f"{flag}={value}")
    for k in draw(st.lists(st.sampled_from(sorted(VARIABLES)), max_size=2, unique=True)):
        env[k] = draw(VARIABLES[k])
    files: dict[str, bytes] = {"advisories.toml": draw(advisory_file())}
    if draw(st.booleans()):  # a profile an earlier run remembered, maybe for this registry
        host = draw(st.sampled_from([REGISTRY, "elsewhere:5000"]))
        profile = draw(st.sampled_from(["docker-v2", "no-attestations", "oci"]))
        entry = {"profile": profile, "since": "2026-12-01", "error": "400 manifest invalid"}
        files[REMEMBERED] = json.dumps({"version": 1, "hosts": {host: entry}}).encode()
    for i, content in enumerate(draw(st.lists(digest_file(), max_size=4))):
        files[f"digests/{i}.json"] = content
    return argv, env, files


@given(inputs=guard_inputs(), bake_code=st.sampled_from([0, BAKE_EXIT]))
@FUZZ
def test_any_guard_input_gives_a_documented_exit_and_no_traceback(
    ground: Path,
    capfd: pytest.CaptureFixture[str],
    inputs: tuple[list[str], dict[str, str], dict[str, bytes]],
    bake_code: int,
) -> None:
    argv, env, files = inputs
    fresh(ground, files)
    code, err = run_cli(argv, {**env, "FUZZ_BAKE_EXIT": str(bake_code)}, capfd)
    assert code in (0, 2, 3, 4, bake_code), (argv, env, code, err[-2000:])


# ---------------------------------------------------------------- a damaged cache

RUNS = {  # (the registry refuses everything: a split cannot confirm its platforms, exit 3)
    "plain": (["--push", "--guard-verify=false"], 0),
    "split": (["--push", "--guard-split=always", "--guard-verify=false"], 3),
    "off": (["--guard=off", "--push"], 0),
    "table": (["--guard-advisories"], 0),  # (the fast paths do not read the advisory table)
}


def cache_files(ground: Path) -> dict[str, list[Path]]:
    """bakeguard's cache files by kind (what reads them: the probe, the plain fast path's
    verdict, the split fast path's entry, the advisory table, `bake --print`, the locator)."""
    probe_dir = ground / "cache" / "bakeguard" / "probe"
    files = sorted(probe_dir.glob("*")) if probe_dir.is_dir() else []
    return {
        "probe": [
            f
            for f in files
            if f.suffix == ".json"
            and f.name.count(".") == 1
            and not f.name.startswith("advisories-")
        ],
        "early": [f for f in files if f.suffix == ".early"],
        "split": [f for f in files if f.name.endswith(".split-2.json")],
        "advisories": [f for f in files if f.name.startswith("advisories-")],
        "definitions": sorted((ground / "cache" / "bakeguard" / "definitions-2").glob("*.json")),
        "plugins": [probe_dir / "plugins"],
    }


def populate(ground: Path, capfd: pytest.CaptureFixture[str]) -> dict[str, list[Path]]:
    for argv, code in RUNS.values():
        assert run_cli(argv, {}, capfd)[0] == code
    # the locator's file (the fake docker is a script, so it is never remembered): one line
    # as the locator writes it, for another docker
    (ground / "cache" / "bakeguard" / "probe" / "plugins").write_text(
        "/other/docker\t/cfg\t/p\t/other/docker\t-\t/cfg/config.json\t-\t/p\t-\n"
    )
    found = cache_files(ground)
    assert all(found.values()), found
    return found


def wrong_types(data: bytes) -> bytes:
    """Every value of a cache file's top-level JSON object of another type."""
    doc = json.loads(data)
    swap = {dict: [], list: {}, str: 1, int: "x", float: "x", bool: "x", type(None): []}
    return json.dumps({k: swap[type(v)] for k, v in doc.items()}).encode()


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "garbage": lambda data: b"\x80\xff\x00 not what was written \xfe",
    "empty": lambda data: b"",
    "list": lambda data: b"[]",
    "null": lambda data: b"null",
    "truncated": lambda data: data[: len(data) // 2],
    "wrong-types": lambda data: (
        wrong_types(data) if data.startswith(b"{") else b"1 yesterday table\tx\ty\n"
    ),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize(
    "kind", ["probe", "early", "split", "advisories", "definitions", "plugins"]
)
def test_a_damaged_cache_file_is_a_miss_and_rewritten(
    ground: Path, capfd: pytest.CaptureFixture[str], kind: str, damage: str
) -> None:
    """Each run works as with a good cache (no traceback, its usual exit code, `--guard=off`
    too), and the run that missed writes the file anew."""
    files = populate(ground, capfd)[kind]
    for f in files:
        f.write_bytes(DAMAGE[damage](f.read_bytes()))
    broken = {f: f.read_bytes() for f in files}
    for argv, code in RUNS.values():
        assert run_cli(argv, {}, capfd)[0] == code, argv
    if kind != "plugins":  # (the fake docker's plugin is never remembered)
        rewritten = cache_files(ground)[kind]
        assert rewritten and all(f.read_bytes() != broken.get(f) for f in rewritten)


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["keep", "bytes", "damage", "nested"]))
    if kind == "keep":
        return data
    if kind == "bytes":
        return draw(st.binary(max_size=40))
    if kind == "damage":
        return DAMAGE[draw(st.sampled_from(sorted(DAMAGE)))](data)
    try:
        doc = json.loads(data)
    except ValueError:
        return data[: draw(st.integers(0, len(data)))]
    # one value somewhere in the JSON, of another type
    path, here = [], doc
    while isinstance(here, (dict, list)) and here and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(here) if isinstance(here, dict) else range(len(here))))
        path.append(key)
        here = here[key]
    swap = {dict: [], list: {}, str: 1, int: "x", float: "x", bool: "x", type(None): []}
    new = swap[type(here)]
    if not path:
        return json.dumps(new).encode()
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new
    return json.dumps(doc).encode()


@given(data=st.data())
@settings(FUZZ, max_examples=400)
def test_any_damage_to_the_cache_changes_nothing_a_user_sees(
    ground: Path, capfd: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    cache = ground / "cache"
    if not (ground / "cache-good").exists():
        populate(ground, capfd)
        shutil.copytree(cache, ground / "cache-good")
    shutil.rmtree(cache)
    shutil.copytree(ground / "cache-good", cache)
    for files in cache_files(ground).values():
        for f in files:
            f.write_bytes(data.draw(damaged(f.read_bytes()), label=f.name))
    argv, code = RUNS[data.draw(st.sampled_from(sorted(RUNS)), label="run")]
    assert run_cli(argv, {}, capfd)[0] == code


# ---------------------------------------------------------------- what a user is told


def test_verify_only_without_push_is_an_error_saying_what_to_pass(
    ground: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code, err = run_cli(["--guard-verify-only", "app"], {}, capfd)
    assert code == 2
    assert "nothing to verify, no target pushes a tag" in err and "e.g. --push" in err


def test_shard_without_push_says_to_push(ground: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(["--guard-shard", "linux/arm64", "--guard-digests", "d"], {}, capfd)
    assert code == 2
    assert "no target pushes with these arguments" in err and "add --push" in err
    assert "choose from" not in err


@pytest.mark.parametrize(
    ("report", "why"),
    [
        ("missing/r.json", "No such file or directory"),
        (".", "is a folder"),
        ("a-file/r.json", "Not a directory"),
    ],
)
def test_an_unwritable_report_is_refused_before_anything_runs(
    ground: Path, capfd: pytest.CaptureFixture[str], report: str, why: str
) -> None:
    fresh(ground, {})
    code, err = run_cli(["--push", "--guard-report", report], {}, capfd)
    assert code == 2 and f"--guard-report {report}: " in err and why in err
    assert "- for stdout" in err
    assert not (ground / "docker.log").exists()  # nothing was built (nor probed)
    code, err = run_cli(["--push"], {"BAKEGUARD_REPORT": report}, capfd)
    assert code == 2 and f"BAKEGUARD_REPORT {report}: " in err


def test_a_writable_report_is_left_as_it_was_until_the_run_writes_it(
    ground: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    fresh(ground, {})
    code, _ = run_cli(["--guard=off", "--guard-report", "new.json", "--push"], {}, capfd)
    assert code == 0 and not Path("new.json").exists()  # checked, not left behind
    code, _ = run_cli(["--push", "--guard-verify=false", "--guard-report", "r.json"], {}, capfd)
    assert code == 0 and json.loads(Path("r.json").read_text())["exit_code"] == 0


def test_a_merge_of_a_folder_without_digest_files_fails(
    ground: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """It used to exit 0 having assembled nothing: a CI merge job passed."""
    fresh(ground, {"digests/package.json": b'{"name": "x"}'})
    code, err = run_cli(["--guard-merge", "digests"], {}, capfd)
    assert code == 2 and "no bakeguard digest file" in err and "digests" in err
    assert not (ground / "docker.log").exists()  # nothing was assembled


def test_a_merge_ignores_other_files_beside_digest_files_and_says_so(
    ground: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    files = {
        f"digests/app-{i}.json": json.dumps(digest_doc(p)).encode() for i, p in enumerate(PLATFORMS)
    }
    fresh(ground, {**files, "digests/package.json": b'{"name": "x"}'})
    code, err = run_cli(["--guard-merge", "digests", "--guard-verify=false"], {}, capfd)
    assert code == 0, err
    assert "ignoring package.json" in err and "assembled" in err
    assert "imagetools create" in (ground / "docker.log").read_text()
