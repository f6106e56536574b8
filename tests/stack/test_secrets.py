"""Nothing secret at rest, on the real stack: after real guarded pushes (plain, split, and the
repeats that would take the fast paths) bakeguard's cache holds no build arg's value, and
every file it wrote there is its owner's alone (0600, in folders of 0700)."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

from tests import reports
from tests.helpers import THREE, Stack, bakeguard, platforms_at, unique_repo


def args_project(where: Path) -> Path:
    """A 3-platform project whose target gets a token as a build arg (and as a secret)."""
    where.mkdir()
    (where / "Dockerfile").write_text("FROM scratch\nARG NPM_TOKEN\nCOPY hello.txt /hello.txt\n")
    (where / "hello.txt").write_text(f"hello from {where.name}\n")
    (where / "docker-bake.hcl").write_text(
        'variable "TAG" {}\nvariable "NPM_TOKEN" {}\ngroup "default" {\n  targets = ["app"]\n}\n'
        'target "app" {\n'
        '  platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"]\n'
        "  tags = [TAG]\n"
        "  args = { NPM_TOKEN = NPM_TOKEN }\n"
        '  secret = ["id=npm,env=NPM_TOKEN"]\n'
        "}\n"
    )
    return where


def test_no_build_arg_value_is_kept_in_the_cache(stack: Stack, tmp_path: Path) -> None:
    token = f"npm_{uuid.uuid4().hex}"
    project = args_project(tmp_path / "project")
    cache = tmp_path / "cache"
    # what an older bakeguard left: folders of 0755, a cached definition with the token
    old = cache / "bakeguard" / "definitions"
    old.mkdir(parents=True)
    (cache / "bakeguard").chmod(0o755)
    (old / "0123.json").write_text(f'{{"target": {{"app": {{"args": {{"T": "{token}"}}}}}}}}')
    tag = f"localhost:5000/{unique_repo('secret')}/app:v1"
    env = stack.buildx("newest", TAG=tag, NPM_TOKEN=token, XDG_CACHE_HOME=str(cache))
    report = tmp_path / "report.json"
    runs = (["--push"], ["--push"], ["--push", "--guard-split=always"])
    for args in (*runs, *runs):  # each twice: the repeat would take a fast path
        res = bakeguard([*args, "--guard-report", str(report)], env, project)
        assert res.returncode == 0, (args, res.stderr[-3000:])
        assert f"verify {tag} (target app): OK, 3/3 platforms" in res.stderr
        assert reports.load(report)["exit_code"] == 0
    assert platforms_at(tag, env) == THREE

    files = [f for f in cache.rglob("*") if f.is_file()]
    assert any(f.name == "plugins" for f in files), files  # the cache was written
    holding = [f for f in files if token.encode() in f.read_bytes()]
    assert not holding, holding
    folders = [cache / "bakeguard", *(d for d in (cache / "bakeguard").rglob("*") if d.is_dir())]
    modes = {str(p): stat.S_IMODE(p.stat().st_mode) for p in (*folders, *files)}
    wrong = {p: oct(m) for p, m in modes.items() if m != (0o700 if Path(p).is_dir() else 0o600)}
    assert not wrong, wrong
