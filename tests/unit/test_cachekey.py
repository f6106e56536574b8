from __future__ import annotations

from pathlib import Path

from bakeguard.cachekey import definition_key


def key(tmp: Path, argv: list[str] | None = None, env: dict[str, str] | None = None) -> str | None:
    return definition_key(
        "/nonexistent/docker", argv or ["--print"], [], env or {"A": "1"}, str(tmp)
    )


def test_the_key_follows_every_input(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "a" {}\n')
    base = key(tmp_path)
    assert base and base == key(tmp_path)
    assert key(tmp_path, ["--print", "b"]) != base
    assert key(tmp_path, env={"A": "2"}) != base
    assert key(tmp_path, env={"A": "1", "SHLVL": "3", "_": "/usr/bin/x"}) == base  # shell noise
    (tmp_path / "docker-bake.hcl").write_text('target "b" {}\n')
    assert key(tmp_path) != base
    (tmp_path / ".env").write_text("TAG=2\n")
    assert key(tmp_path) not in (base, None)


def test_what_cannot_be_cached(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text('target "a" {\n  tags = ["r:${timestamp()}"]\n}\n')
    assert key(tmp_path) is None
    (tmp_path / "docker-bake.hcl").write_text('target "a" {}\n')
    assert key(tmp_path, ["--print", "https://github.com/o/r.git"]) is None


def test_prune_keeps_the_newest(tmp_path: Path) -> None:
    import os

    from bakeguard.cachekey import prune

    for i in range(5):
        f = tmp_path / f"{i}.json"
        f.write_text("{}")
        os.utime(f, (1000 + i, 1000 + i))
    prune(str(tmp_path), keep=2)
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["3.json", "4.json"]


def test_switching_builder_or_context_is_a_new_probe(tmp_path: Path) -> None:
    """`docker buildx use X` / `docker context use Y` change no variable, only these files:
    the cached verdict for the old builder must not be reused for the new one."""
    import os

    from bakeguard.cachekey import probe_key

    env = {"DOCKER_CONFIG": str(tmp_path)}
    (tmp_path / "buildx").mkdir()
    current = tmp_path / "buildx" / "current"
    current.write_text('{"Key":"unix:///var/run/docker.sock","Name":"default"}')
    before = probe_key("/nonexistent/docker", None, env)
    assert probe_key("/nonexistent/docker", None, env) == before
    os.utime(current, ns=(1, 1))  # buildx rewrites it unchanged on every bake
    assert probe_key("/nonexistent/docker", None, env) == before
    current.write_text('{"Key":"unix:///var/run/docker.sock","Name":"bg-remote"}')
    after_use = probe_key("/nonexistent/docker", None, env)
    assert after_use != before
    (tmp_path / "config.json").write_text('{"currentContext":"remote"}')
    assert probe_key("/nonexistent/docker", None, env) != after_use
