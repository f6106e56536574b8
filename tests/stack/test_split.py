"""The split on the real stack: per-platform pushes in one bake, imagetools create, verified;
the field case fixed; remote and multi-node builders by digest; failures leave tags alone."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import reports
from tests.front import Front
from tests.helpers import (
    THREE,
    Stack,
    bake,
    bakeguard,
    digest_at,
    login,
    platforms_at,
    run,
    unique_repo,
)


def tags_of(registry: str, repo: str) -> list[str]:
    with urllib.request.urlopen(f"http://{registry}/v2/{repo}/tags/list", timeout=10) as r:
        return sorted(json.load(r).get("tags") or [])


@pytest.mark.parametrize("label", ["v0.21.1", "debian"])
def test_field_case_msr_front(
    stack: Stack, project: Path, front: Callable[..., Front], label: str, tmp_path: Path
) -> None:
    f = front(msr=True)
    repo = f"{unique_repo('field')}/app"
    plain_tag = f"localhost:{f.port}/{repo}:plain"
    env = stack.buildx(label, TAG=plain_tag)
    assert bake(["--push"], env, project).returncode == 0
    assert platforms_at(plain_tag, env) == {"linux/amd64"}  # plain bake: quietly partial

    tag = f"localhost:{f.port}/{repo}:v1"
    meta = tmp_path / "meta.json"
    res = bakeguard(["--push", "--metadata-file", str(meta)], {**env, "TAG": tag}, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "[docker-driver-double-push]" in res.stderr
    assert "splitting per platform (advisory docker-driver-double-push)" in res.stderr
    assert f"verify {tag} (target app): OK, 3/3 platforms" in res.stderr
    assert platforms_at(tag, env) == THREE
    doc = json.loads(meta.read_text())  # the user's metadata names the original target
    assert set(doc) == {"app"} and doc["app"]["containerimage.digest"] == digest_at(tag, env)


@pytest.mark.parametrize("builder", ["bg-remote", "bg-multi"])
def test_remote_builders_split_by_digest_and_verify(
    stack: Stack, project: Path, builder: str
) -> None:
    """One node, and two nodes (buildx's multi-node merge): pushes by digest, no tags but v1."""
    repo = f"{unique_repo('bydigest')}/app"
    tag = f"localhost:5000/{repo}:v1"
    env = stack.buildx("newest", TAG=tag)
    res = bakeguard(["--push", "--guard-split=always", "--builder", builder], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "OK, 3/3" in res.stderr and platforms_at(tag, env) == THREE
    assert tags_of("127.0.0.1:5000", repo) == ["v1"]  # no per-platform tags


def test_docker_driver_split_uses_per_platform_tags(stack: Stack, project: Path) -> None:
    repo = f"{unique_repo('pptags')}/app"
    env = stack.buildx("newest", TAG=f"localhost:5000/{repo}:v1")
    res = bakeguard(["--push", "--guard-split=always"], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert tags_of("127.0.0.1:5000", repo) == [
        "v1",
        "v1-linux-amd64",
        "v1-linux-arm-v7",
        "v1-linux-arm64",
    ]
    # a fixed buildx (no engine push) leaves no per-platform copies in the engine's store
    local = run(["docker", "image", "ls", "--format", "{{.Tag}}", f"localhost:5000/{repo}"], env)
    assert local.returncode == 0 and local.stdout.split() == []


def test_flaky_registry_during_imagetools_create(
    stack: Stack, project: Path, front: Callable[..., Front]
) -> None:
    f = front(flaky_every=3, flaky_agent="containerd/")
    tag = f"localhost:{f.port}/{unique_repo('flakyit')}/app:v1"
    env = stack.buildx("newest", TAG=tag)
    res = bakeguard(["--push", "--guard-split=always", "--builder", "bg-remote"], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert any(s.status in (429, 503) and "containerd/" in s.agent for s in f.seen)
    assert platforms_at(tag, env) == THREE


def test_failed_platform_leaves_the_old_tag(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM scratch\nARG TARGETARCH\nCOPY hello-${TARGETARCH}.txt /\n"
    )
    for arch in ("amd64", "arm64", "arm"):
        (tmp_path / f"hello-{arch}.txt").write_text(arch)
    (tmp_path / "docker-bake.hcl").write_text(
        'variable "TAG" {}\ntarget "default" {\n'
        '  platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"]\n  tags = [TAG]\n}\n'
    )
    tag = f"localhost:5000/{unique_repo('keep')}/app:v1"
    for label, builder in (("newest", "bg-remote"), ("v0.21.1", "default"), ("newest", "default")):
        env = stack.buildx(label, TAG=tag)
        (tmp_path / "hello-arm.txt").write_text("arm")
        assert (
            bakeguard(["--push", "--guard=off", "--builder", builder], env, tmp_path).returncode
            == 0
        )
        old = digest_at(tag, env)
        (tmp_path / "hello-arm.txt").unlink()
        (tmp_path / "hello-amd64.txt").write_text(f"changed for {label}")
        res = bakeguard(["--push", "--guard-split=always", "--builder", builder], env, tmp_path)
        assert res.returncode != 0
        assert "platform linux/arm/v7 of target default did not reach the registry" in res.stderr
        assert "left untouched" in res.stderr
        assert digest_at(tag, env) == old
        assert f"{tag} (target default): untouched, still {str(old)[:19]}" in res.stderr
        # the retry names bake's own error (the missing file), never a cause that did not
        # happen: it used to blame the engine's second push on v0.21.1
        (retry,) = [x for x in res.stderr.splitlines() if "warning: bake exited 1:" in x]
        assert "hello-arm.txt" in retry and "second push" not in retry, retry
        # the imagetools create started beside bake got no sources and is gone
        assert run(["pgrep", "-f", f"imagetools create.* {tag}"], env).stdout == ""


@pytest.mark.parametrize("builder", ["bg-remote", "default"])
def test_shard_then_merge_in_separate_processes(
    stack: Stack, project: Path, tmp_path: Path, builder: str
) -> None:
    tag = f"localhost:5000/{unique_repo('shard')}/app:v1"
    env = stack.buildx("newest", TAG=tag)
    shards = {"a": "linux/amd64", "b": "linux/arm64,linux/arm/v7"}
    for name, plats in shards.items():
        res = bakeguard(
            [
                "--push",
                "--builder",
                builder,
                "--guard-shard",
                plats,
                "--guard-digests",
                str(tmp_path / name),
            ],
            env,
            project,
        )
        assert res.returncode == 0, res.stderr[-3000:]
    assert platforms_at(tag, env) == set()  # shards write no final tag
    merged = tmp_path / "all"
    merged.mkdir()
    only_a = tmp_path / "only-a"
    only_a.mkdir()
    for name in shards:
        for f in (tmp_path / name).glob("*.json"):
            (merged / f.name).write_bytes(f.read_bytes())
            if name == "a":
                (only_a / f.name).write_bytes(f.read_bytes())
    res = bakeguard(["--guard-merge", str(only_a)], env, project)
    assert res.returncode == 3 and "linux/arm64, linux/arm/v7" in res.stderr
    assert platforms_at(tag, env) == set()  # an incomplete merge writes nothing
    report = tmp_path / "merge-report.json"
    res = bakeguard(["--guard-merge", str(merged), f"--guard-report={report}"], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "OK, 3/3" in res.stderr and platforms_at(tag, env) == THREE
    # the merge's report names each platform's source, as the shards' digest files do
    shard_sources = {
        d["platform"]: d["source"]
        for d in (json.loads(f.read_text()) for f in merged.glob("*.json"))
    }
    (entry,) = reports.load(report)["split"]
    assert {p["platform"]: p["source"] for p in entry["platform_sources"]} == shard_sources
    assert entry["refs"] == [tag] and entry["by_digest"] is None


@pytest.mark.parametrize("builder", ["bg-remote", "default"])
def test_merge_reads_every_shard_image_before_it_writes(
    stack: Stack, project: Path, tmp_path: Path, builder: str
) -> None:
    """#23 item 9, all or nothing: a digest file whose `source` is another platform's image
    (it used to overwrite a good two-platform tag with a one-platform index, then exit 3), and
    a shard image deleted before the merge (it was exit 1), each write nothing: exit 3, naming
    the file and the shard job to re-run; the good tag stays as it was."""
    two = ("linux/amd64", "linux/arm64")
    hcl = project / "docker-bake.hcl"
    hcl.write_text(hcl.read_text().replace('"linux/arm/v7"', "").replace('", ]', '"]'))
    repo = f"{unique_repo('mergecheck')}/app"
    tag = f"localhost:5000/{repo}:v1"
    env = stack.buildx("newest", TAG=tag)
    good = tmp_path / "good"
    for plat in two:
        res = bakeguard(
            ["--push", "--builder", builder, "--guard-shard", plat, "--guard-digests", str(good)],
            env,
            project,
        )
        assert res.returncode == 0, res.stderr[-3000:]
    res = bakeguard(["--guard-merge", str(good)], env, project)
    assert res.returncode == 0 and "OK, 2/2" in res.stderr, res.stderr[-3000:]
    whole = digest_at(tag, env)
    files = {json.loads(f.read_text())["platform"]: f for f in good.glob("*.json")}
    sources = {p: json.loads(f.read_text())["source"] for p, f in files.items()}

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    for f in files.values():
        doc = json.loads(f.read_text())
        doc["source"] = sources["linux/amd64"]  # the arm64 file names the amd64 image
        (wrong / f.name).write_text(json.dumps(doc))
    res = bakeguard(["--guard-merge", str(wrong)], env, project)
    assert res.returncode == 3, res.stderr[-3000:]
    bad_file = wrong / files["linux/arm64"].name
    assert f"{bad_file}: its image {sources['linux/amd64']} holds linux/amd64, not " in res.stderr
    assert "re-run the shard job for linux/arm64 of target app" in res.stderr
    assert digest_at(tag, env) == whole and platforms_at(tag, env) == set(two)

    name, _, gone = sources["linux/arm64"].partition("@")
    req = urllib.request.Request(
        f"http://127.0.0.1:5000/v2/{repo}/manifests/{gone}", method="DELETE"
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 202
    res = bakeguard(["--guard-merge", str(good)], env, project)
    assert res.returncode == 3, res.stderr[-3000:]
    assert f"{files['linux/arm64']}: its image {name}@{gone} is not in the registry" in res.stderr
    assert "re-run the shard job for linux/arm64 of target app" in res.stderr
    assert digest_at(tag, env) == whole


def test_shard_rejects_a_platform_no_target_has(
    stack: Stack, project: Path, tmp_path: Path
) -> None:
    env = stack.buildx("newest", TAG="localhost:5000/x/y:z")
    res = bakeguard(
        ["--push", "--guard-shard", "linux/s390x", "--guard-digests", str(tmp_path)], env, project
    )
    assert res.returncode == 2 and "linux/s390x" in res.stderr and "choose from" in res.stderr


def test_shared_layer_pushed_by_every_platform(stack: Stack, tmp_path: Path) -> None:
    """Each platform's push uploads the same 20 MB blob at once; a registry may lose that race
    (distribution: "provided digest did not match uploaded content"). The split retries the
    platforms that did not land once, from cache, and ends complete."""
    import os

    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY blob.bin /\n")
    (tmp_path / "blob.bin").write_bytes(os.urandom(20 * 1024 * 1024))
    (tmp_path / "docker-bake.hcl").write_text(
        'variable "TAG" {}\ntarget "default" {\n'
        '  platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"]\n  tags = [TAG]\n}\n'
    )
    tag = f"localhost:5000/{unique_repo('shared')}/app:v1"
    env = stack.buildx("newest", TAG=tag)
    res = bakeguard(["--push", "--guard-split=always"], env, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert platforms_at(tag, env) == THREE


def test_index_annotations_survive_the_split(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /\n")
    (tmp_path / "hello.txt").write_text(unique_repo())
    (tmp_path / "docker-bake.hcl").write_text(
        'variable "TAG" {}\ntarget "default" {\n'
        '  platforms = ["linux/amd64", "linux/arm64"]\n  tags = [TAG]\n'
        '  annotations = ["index:org.opencontainers.image.description=kept by bakeguard"]\n}\n'
    )
    tag = f"localhost:5000/{unique_repo('annot')}/app:v1"
    env = stack.buildx("newest", TAG=tag)
    res = bakeguard(["--push", "--guard-split=always", "--builder", "bg-remote"], env, tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    raw = run(["docker", "buildx", "imagetools", "inspect", "--raw", tag], env)
    annotations = json.loads(raw.stdout).get("annotations") or {}
    assert annotations.get("org.opencontainers.image.description") == "kept by bakeguard"


def test_repeated_field_case_split_takes_the_fast_path(
    stack: Stack, project: Path, front: Callable[..., Front], tmp_path: Path
) -> None:
    """The second identical run replays the first's decision and bakes its generated
    definition at once: the advisory and the split are still announced before bake's own
    output, the engine's failing second push is still worked around, the tag is whole."""
    f = front(msr=True)
    tag = f"localhost:{f.port}/{unique_repo('fastsplit')}/app:v1"
    env = stack.buildx("v0.21.1", TAG=tag, XDG_CACHE_HOME=str(tmp_path / "cache"))
    report = tmp_path / "r.json"
    args = ["--push", "--progress=plain", "--guard-report", str(report)]
    for n in range(2):
        res = bakeguard(args, env, project)
        assert res.returncode == 0, res.stderr[-3000:]
        doc = reports.load(report)
        assert doc.get("fast_path", False) is bool(n)
        assert doc["mode"] == "split" and doc["verification"][0]["ok"] is True
        announced = res.stderr.index("splitting per platform (advisory docker-driver-double-push)")
        assert res.stderr.index("[docker-driver-double-push]") < announced
        assert announced < res.stderr.index("#1 ")  # before bake's first step
        assert f"verify {tag} (target app): OK, 3/3 platforms" in res.stderr
        assert platforms_at(tag, env) == THREE


def test_split_fast_path_follows_a_changed_definition(
    stack: Stack, project: Path, tmp_path: Path
) -> None:
    """A cached split is keyed by the definition: edit the bake file and the next run plans
    again (two platforms now), never bakes the stale plan."""
    tag = f"localhost:5000/{unique_repo('staleplan')}/app:v1"
    env = stack.buildx("newest", TAG=tag, XDG_CACHE_HOME=str(tmp_path / "cache"))
    report = tmp_path / "r.json"
    args = ["--push", "--guard-split=always", "--guard-report", str(report)]
    assert bakeguard(args, env, project).returncode == 0
    assert reports.load(report).get("fast_path", False) is False
    hcl = project / "docker-bake.hcl"
    hcl.write_text(hcl.read_text().replace(', "linux/arm/v7"]', "]"))
    res = bakeguard(args, env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    doc = reports.load(report)
    assert doc.get("fast_path", False) is False
    assert doc["verification"][0]["expected"] == ["linux/amd64", "linux/arm64"]
    assert platforms_at(tag, env) == {"linux/amd64", "linux/arm64"}
    res = bakeguard(args, env, project)  # and the new plan is the one remembered
    assert res.returncode == 0 and reports.load(report)["fast_path"] is True
    assert platforms_at(tag, env) == {"linux/amd64", "linux/arm64"}


def test_split_fast_path_still_catches_a_partial_tag(
    stack: Stack, project: Path, front: Callable[..., Front], tmp_path: Path
) -> None:
    """The front now keeps only the first platform of every index pushed by tag (the
    per-platform images are indexes too, with their attestations): the fast path's confirm
    sees that, and the final tag is not written."""
    f = front()
    tag = f"localhost:{f.port}/{unique_repo('fasttrunc')}/app:v1"
    env = stack.buildx("newest", TAG=tag, XDG_CACHE_HOME=str(tmp_path / "cache"))
    report = tmp_path / "r.json"
    args = ["--push", "--guard-split=always", "--guard-report", str(report)]
    assert bakeguard(args, env, project).returncode == 0
    f.modes.truncate = True
    res = bakeguard(args, env, project)
    assert reports.load(report)["fast_path"] is True
    assert res.returncode == 3, res.stderr[-3000:]
    assert "of target app did not reach the registry" in res.stderr
    assert "final tags of app left untouched" in res.stderr


def _puts(f: Front, repo: str, tag: str) -> list[tuple[str, int]]:
    """(client, status) of each PUT of repo:tag the front saw."""
    path = f"/v2/{repo}/manifests/{tag}"
    return [
        ("bakeguard" if s.agent == "bakeguard" else s.agent.split("/")[0], s.status)
        for s in f.seen
        if s.method == "PUT" and s.path == path
    ]


@pytest.mark.parametrize(
    ("label", "builder"),
    [("newest", "default"), ("newest", "bg-remote"), ("v0.21.1", "default"), ("debian", "default")],
)
def test_bakeguard_writes_the_very_index_imagetools_composes(
    stack: Stack,
    project: Path,
    front: Callable[..., Front],
    tmp_path: Path,
    label: str,
    builder: str,
) -> None:
    """Sources and tag in one repository: imagetools create composes (--dry-run) and bakeguard
    writes the index; the tag's digest is the one that buildx's `imagetools create` itself
    writes."""
    f = front()
    repo = f"{unique_repo('compose')}/app"
    tag = f"localhost:{f.port}/{repo}:v1"
    env = stack.buildx(label, TAG=tag)
    report = tmp_path / "report.json"
    argv = ["--push", "--guard-split=always", "--builder", builder, "--guard-report", str(report)]
    res = bakeguard(argv, env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "OK, 3/3" in res.stderr and platforms_at(tag, env) == THREE
    assert _puts(f, repo, "v1") == [("bakeguard", 201)]  # imagetools wrote nothing there
    split = reports.load(report)["split"][0]
    assert split["index_written_by"] == "bakeguard"
    sources = split["sources"]
    check = f"localhost:{f.port}/{repo}:by-imagetools"
    made = run(["docker", "buildx", "imagetools", "create", "-t", check, *sources], env)
    assert made.returncode == 0, made.stderr
    assert _puts(f, repo, "by-imagetools") == [("containerd", 201)]
    assert digest_at(check, env) == digest_at(tag, env)


def test_a_registry_that_refuses_bakeguards_write_gets_imagetools_own(
    stack: Stack, project: Path, front: Callable[..., Front]
) -> None:
    f = front(deny_writes_agent="bakeguard")
    repo = f"{unique_repo('denied')}/app"
    tag = f"localhost:{f.port}/{repo}:v1"
    env = stack.buildx("newest", TAG=tag)
    res = bakeguard(["--push", "--guard-split=always"], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "bakeguard could not write the index itself" in res.stderr and "403" in res.stderr
    assert "imagetools create writes it" in res.stderr
    assert _puts(f, repo, "v1") == [("bakeguard", 403), ("containerd", 201)]
    assert "OK, 3/3" in res.stderr and platforms_at(tag, env) == THREE


def test_bakeguards_write_is_retried_on_a_flaky_registry(
    stack: Stack, project: Path, front: Callable[..., Front]
) -> None:
    # bakeguard's manifest requests: HEAD v1, PUT v1 (503), PUT v1 again, then verification's
    f = front(flaky_every=2, flaky_agent="bakeguard")
    repo = f"{unique_repo('flakyput')}/app"
    tag = f"localhost:{f.port}/{repo}:v1"
    env = stack.buildx("newest", TAG=tag)
    res = bakeguard(["--push", "--guard-split=always", "--builder", "bg-remote"], env, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert _puts(f, repo, "v1") == [("bakeguard", 503), ("bakeguard", 201)]
    assert "OK, 3/3" in res.stderr and platforms_at(tag, env) == THREE


def test_bakeguards_write_with_a_bearer_token(
    stack: Stack, project: Path, front: Callable[..., Front], tmp_path: Path
) -> None:
    """After docker login, a registry with bearer tokens (a front): bakeguard gets a token
    with push scope and writes the index itself."""
    env = stack.private_config("newest", tmp_path)
    f = front(bearer=("ci", "s3cret"))
    assert login(env, f"localhost:{f.port}", "ci", "s3cret").returncode == 0
    repo = f"{unique_repo('bearerput')}/app"
    tag = f"localhost:{f.port}/{repo}:v1"
    res = bakeguard(["--push", "--guard-split=always"], {**env, "TAG": tag}, project)
    assert res.returncode == 0, res.stderr[-3000:]
    assert ("bakeguard", 201) in _puts(f, repo, "v1") and "OK, 3/3" in res.stderr


def test_every_tag_of_a_target_gets_the_index_whoever_writes_it(
    stack: Stack, tmp_path: Path
) -> None:
    """Two tags in the platforms' repository: bakeguard writes both. A tag in another
    repository: imagetools create writes them all (it copies what that repository lacks)."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /\n")
    (tmp_path / "hello.txt").write_text(f"hello from {tmp_path.name}\n")
    base = f"localhost:5000/{unique_repo('tags')}"
    (tmp_path / "docker-bake.hcl").write_text(
        'group "default" {\n  targets = ["same", "other"]\n}\n'
        'target "same" {\n  platforms = ["linux/amd64", "linux/arm64"]\n'
        f'  tags = ["{base}/same:v1", "{base}/same:latest"]\n}}\n'
        'target "other" {\n  platforms = ["linux/amd64", "linux/arm64"]\n'
        f'  tags = ["{base}/other:v1", "{base}/mirror:v1"]\n}}\n'
    )
    env = stack.buildx("newest")
    report = tmp_path / "report.json"
    res = bakeguard(
        ["--push", "--guard-split=always", "--guard-report", str(report)], env, tmp_path
    )
    assert res.returncode == 0, res.stderr[-3000:]
    writers = {s["target"]: s["index_written_by"] for s in reports.load(report)["split"]}
    assert writers == {"same": "bakeguard", "other": "imagetools"}
    two = {"linux/amd64", "linux/arm64"}
    for a, b in (
        (f"{base}/same:v1", f"{base}/same:latest"),
        (f"{base}/other:v1", f"{base}/mirror:v1"),
    ):
        assert platforms_at(a, env) == two and digest_at(a, env) == digest_at(b, env)
