"""The drop-in contract on the real stack: `bakeguard --guard=off ARGS` and plain
`docker buildx bake ARGS` give the same exit code and stdout; builds give the same image
digests per platform in the registry (SOURCE_DATE_EPOCH=0 makes images reproducible)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import Stack, bake, bakeguard, platforms_at, run, unique_repo

CORPUS = Path(__file__).parent.parent / "data" / "corpus"
ROOT = CORPUS.parent.parent.parent

# (id, args); {T} is replaced by the run's TAG so the two runs push to different tags
PRINTS = [
    ("print-default", ["--print"]),
    ("print-group", ["--print", "all"]),
    ("print-set-platform", ["--print", "app", "--set", "app.platform=linux/arm64"]),
    ("print-set-glob-tags", ["--print", "--set", "*.tags=localhost:5000/x/y:z"]),
    ("print-set-glob-platforms", ["--print", "--set=*.platform=linux/amd64,linux/arm64"]),
    ("print-two-files", ["--print", "-f", "docker-bake.hcl", "-f", "override.hcl", "app"]),
    ("print-var", ["--print", "--var", "TAG=v9", "app"]),
    ("print-matrix", ["--print", "matrix"]),
    ("print-matrix-member", ["--print", "m-a"]),
    ("print-json", ["-f", "corpus.json", "--print", "jsonapp"]),
    ("print-compose", ["-f", "compose-web.yaml", "--print"]),
    ("print-provenance-sbom", ["--print", "--provenance=false", "--sbom=true", "app"]),
    ("print-push-load", ["--print", "--push", "app"]),
    ("print-no-cache-pull", ["--print", "--no-cache", "--pull", "tools"]),
    ("list-targets", ["--list=targets"]),
    ("list-variables", ["--list=variables"]),
    ("list-targets-space", ["--list", "targets"]),
    ("call-check", ["--call", "check", "app"]),
    ("check", ["--check", "app"]),
    ("help", ["--help"]),
]
FAILS = [
    ("unknown-target", ["--print", "nosuchtarget"]),
    ("syntax-error", ["-f", "syntax-error.hcl", "--print"]),
    ("bad-set-key", ["--print", "--set", "app.nosuchkey=1"]),
    ("missing-file", ["-f", "nonexistent.hcl", "--print"]),
    ("failing-build", ["broken", "--progress=plain"]),
    ("unknown-flag", ["--no-such-flag", "app"]),
]
BUILDS = [
    ("build-app", ["app", "--push"], ["app"]),
    ("build-tools-two-tags", ["tools", "--push"], ["tools", "tools:latest"]),
    ("build-matrix", ["m-a", "m-b", "--push"], ["m-a", "m-b"]),
    ("build-set-platform", ["app", "--push", "--set", "app.platform=linux/arm64"], ["app"]),
    ("build-json", ["-f", "corpus.json", "jsonapp", "--push"], ["jsonapp"]),
    ("build-compose", ["-f", "compose-web.yaml", "--push"], ["web"]),
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    return dst


def envs(stack: Stack, repo: str, tag: str) -> dict[str, str]:
    return stack.buildx(
        "newest", REPO=repo, TAG=tag, SOURCE_DATE_EPOCH="0", BAKEGUARD_PROBE_TTL="0"
    )


@pytest.fixture(scope="module")
def located(stack: Stack) -> None:
    """The buildx plugin located (a probe ran), so that bakeguard runs it directly."""
    env = envs(stack, "corpus/located", "v1")
    assert bakeguard(["--guard-doctor"], env, ROOT).returncode == 0


# --guard=off runs the located plugin itself, or (BAKEGUARD_PLUGIN_DIRECT=0) `docker buildx`
GUARDS = {
    "off": ("--guard=off", "1"),
    "off-via-docker": ("--guard=off", "0"),
    "auto": ("--guard=auto", "1"),
}


@pytest.mark.parametrize("guard", list(GUARDS))
@pytest.mark.parametrize(("case", "args"), PRINTS + FAILS, ids=[c for c, _ in PRINTS + FAILS])
def test_same_stdout_and_exit_code(
    stack: Stack, corpus: Path, case: str, args: list[str], guard: str, located: None
) -> None:
    flag, direct = GUARDS[guard]
    env = {**envs(stack, f"corpus/{unique_repo()}", "v1"), "BAKEGUARD_PLUGIN_DIRECT": direct}
    plain = bake(args, env, corpus)
    guarded = bakeguard([flag, *args], env, corpus)
    assert guarded.returncode == plain.returncode, guarded.stderr[-1500:]
    assert guarded.stdout == plain.stdout
    if (case, args) in FAILS:
        assert plain.returncode != 0
        assert "bakeguard" not in guarded.stderr  # nothing misleading added
    else:
        assert plain.returncode == 0, plain.stderr[-1500:]


def platform_digests(ref: str, env: dict[str, str]) -> dict[str, str]:
    raw = run(["docker", "buildx", "imagetools", "inspect", "--raw", ref], env)
    assert raw.returncode == 0, raw.stderr
    doc = json.loads(raw.stdout)
    if "manifests" not in doc:
        return {"single": "sha256:" + __import__("hashlib").sha256(raw.stdout.encode()).hexdigest()}
    return {
        "/".join(
            filter(
                None,
                (m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant")),
            )
        ): m["digest"]
        for m in doc["manifests"]
        if m["platform"]["os"] != "unknown"
    }


@pytest.mark.parametrize(("case", "args", "images"), BUILDS, ids=[c for c, _, _ in BUILDS])
def test_builds_push_the_same_images(
    stack: Stack, corpus: Path, case: str, args: list[str], images: list[str], located: None
) -> None:
    repo = f"corpus/{unique_repo()}"
    results = {}
    for who in ("plain", "guarded"):
        env = envs(stack, repo, who)
        res = (
            bake(args, env, corpus)
            if who == "plain"
            else bakeguard(["--guard=off", *args], env, corpus)
        )
        assert res.returncode == 0, res.stderr[-1500:]
        results[who] = res
    assert results["plain"].stdout == results["guarded"].stdout
    for image in images:
        name, _, fixed_tag = image.partition(":")
        prefix = (
            f"localhost:5000/bakeguard/corpus/{name}"
            if case in ("build-json", "build-compose")
            else f"localhost:5000/{repo}/{name}"
        )
        plain = platform_digests(f"{prefix}:{fixed_tag or 'plain'}", envs(stack, repo, "plain"))
        if fixed_tag:  # a fixed tag both runs wrote: the same images either way
            assert plain
            continue
        guarded = platform_digests(f"{prefix}:guarded", envs(stack, repo, "guarded"))
        assert plain == guarded and plain


def test_corpus_is_big_enough() -> None:
    assert len(PRINTS) + len(FAILS) + len(BUILDS) >= 25


WRAPPER = """#!/bin/sh
# the real buildx, logging how it was started: the docker CLI always hands its plugins a
# socket (DOCKER_CLI_PLUGIN_SOCKET); a plugin bakeguard runs directly has none
if [ "$1" != docker-cli-plugin-metadata ]; then
  how=direct; [ -n "$DOCKER_CLI_PLUGIN_SOCKET" ] && how=docker
  mark=standalone; [ -n "$DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND" ] && mark=plugin
  echo "$how $mark $*" >> {log}
fi
exec {real} "$@"
"""


def test_bake_runs_the_plugin_docker_would_run(stack: Stack, corpus: Path, tmp_path: Path) -> None:
    """Once a probe has seen which plugin `docker buildx` runs, bakeguard runs it itself, as
    the CLI does (same argv, the plugin marker set), with bake's output and exit code; a
    config with CLI plugin hooks keeps every bake going through docker."""
    env = stack.private_config("newest", tmp_path)
    plugin = Path(env["DOCKER_CONFIG"]) / "cli-plugins" / "docker-buildx"
    real = (stack.configs / stack.newest / "cli-plugins" / "docker-buildx").resolve()
    log = tmp_path / "plugin.log"
    plugin.unlink()
    plugin.write_text(WRAPPER.format(log=log, real=real))
    plugin.chmod(0o755)
    repo = f"corpus/{unique_repo()}"
    env = {**env, "REPO": repo, "TAG": "v1", "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def runs(args: list[str]) -> list[str]:
        log.write_text("")
        res = bakeguard(args, env, corpus)
        assert res.returncode == 0, res.stderr[-1500:]
        assert res.stdout == bake(args[1:], env, corpus).stdout
        return log.read_text().splitlines()[:1]

    # nothing located yet: through docker
    assert runs(["--guard=off", "--print", "app"]) == ["docker plugin buildx bake --print app"]
    assert bakeguard(["--guard-doctor"], env, corpus).returncode == 0  # a probe
    assert runs(["--guard=off", "--print", "app"]) == ["direct plugin buildx bake --print app"]
    assert runs(["--guard=off", "app", "--push"]) == ["direct plugin buildx bake app --push"]
    assert platforms_at(f"localhost:5000/{repo}/app:v1", env) == {
        "linux/amd64",
        "linux/arm64",
        "linux/arm/v7",
    }
    # guarded: the user's bake too (the first buildx call logged is bake --print)
    log.write_text("")
    assert bakeguard(["app", "--push"], env, corpus).returncode == 0
    lines = log.read_text().splitlines()
    assert any("bake" in line and "--print" not in line for line in lines), lines
    assert all(line.startswith("direct plugin buildx") for line in lines), lines

    # a CLI hook configured (Docker Scout's "What's next" after a build): docker runs bake
    (Path(env["DOCKER_CONFIG"]) / "config.json").write_text(
        json.dumps({"plugins": {"scout": {"hooks": "buildx bake"}}})
    )
    doctor = bakeguard(["--guard-doctor"], env, corpus)
    assert "buildx runs: through docker (config.json configures plugin hooks" in doctor.stdout
    assert runs(["--guard=off", "--print", "app"]) == ["docker plugin buildx bake --print app"]
