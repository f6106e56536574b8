"""Helpers for real-stack tests: the stack's addresses, running real tools, reading a tag."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import stackctl  # noqa: E402


@dataclass(frozen=True)
class Stack:
    env: Mapping[str, str]  # the environment `scripts/stack env` exports, over os.environ
    configs: Path
    labels: tuple[str, ...]  # buildx versions: debian, v0.21.1, v0.22.0, newest
    newest: str
    registry: str  # 127.0.0.1:5000, plain HTTP
    # every real registry over plain HTTP, name -> 127.0.0.1:PORT: plain (Debian's
    # distribution 2.8, the same as `registry`), dist3, dist3-auth (htpasswd: tls_user and
    # tls_password), crane (go-containerregistry's `crane registry serve`)
    registries: Mapping[str, str]
    tls_registry: str  # localhost:5443, TLS + htpasswd
    tls_user: str
    tls_password: str
    ca: Path
    certs_d: Path
    front_ports: range

    def buildx(self, label: str, **extra: str) -> dict[str, str]:
        """Environment for one buildx version (its own DOCKER_CONFIG)."""
        if label == "newest":
            label = self.newest
        return {**self.env, "DOCKER_CONFIG": str(self.configs / label), **extra}

    def private_config(self, label: str, where: Path) -> dict[str, str]:
        """A copy of a version's DOCKER_CONFIG a test may change (docker login)."""
        if label == "newest":
            label = self.newest
        dst = where / f"docker-config-{label}"
        shutil.copytree(self.configs / label, dst, symlinks=True)
        return {**self.env, "DOCKER_CONFIG": str(dst)}


def load_stack() -> tuple[Stack | None, str]:
    exports = stackctl.env_exports()
    sock = exports["DOCKER_HOST"].removeprefix("unix://")
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock)
    except OSError as e:
        return None, f"no engine at {sock}: {e}"
    try:
        with socket.create_connection(("127.0.0.1", 5000), timeout=2):
            pass
    except OSError as e:
        return None, f"no registry at 127.0.0.1:5000: {e}"
    lo, hi = exports["BAKEGUARD_STACK_FRONT_PORTS"].split("-")
    env = {**os.environ, **exports, "BAKEGUARD_LOG_FORMAT": "console"}
    for var in ("BUILDX_BUILDER", "GITHUB_ACTIONS", "GITLAB_CI", "GITHUB_STEP_SUMMARY"):
        env.pop(var, None)
    return (
        Stack(
            env=env,
            configs=Path(exports["BAKEGUARD_STACK_CONFIGS"]),
            labels=tuple(exports["BAKEGUARD_STACK_BUILDX"].split()),
            newest=exports["BAKEGUARD_STACK_NEWEST"],
            registry=exports["BAKEGUARD_STACK_REGISTRY"],
            registries=dict(
                kv.split("=", 1) for kv in exports["BAKEGUARD_STACK_REGISTRIES"].split()
            ),
            tls_registry=exports["BAKEGUARD_STACK_TLS_REGISTRY"],
            tls_user=exports["BAKEGUARD_STACK_TLS_USER"],
            tls_password=Path(exports["BAKEGUARD_STACK_TLS_PASSWORD_FILE"]).read_text().strip(),
            ca=Path(exports["BAKEGUARD_STACK_CA"]),
            certs_d=Path(exports["BAKEGUARD_STACK_CERTS_D"]),
            front_ports=range(int(lo), int(hi) + 1),
        ),
        "",
    )


def unique_repo(prefix: str = "bg") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def run(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def bake(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return run(["docker", "buildx", "bake", *args], env, cwd, timeout)


def bakeguard(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "bakeguard", *args], env, cwd, timeout)


def platforms_at(ref: str, env: Mapping[str, str]) -> set[str]:
    """Platforms of a tag, read with the real `docker buildx imagetools inspect` (attestation
    entries left out). A missing tag reads as the empty set."""
    raw = run(["docker", "buildx", "imagetools", "inspect", "--raw", ref], env)
    if raw.returncode != 0:
        return set()
    doc = json.loads(raw.stdout)
    if "manifests" not in doc:
        img = run(
            ["docker", "buildx", "imagetools", "inspect", ref, "--format", "{{json .Image}}"], env
        )
        cfg = json.loads(img.stdout)
        return {"/".join(filter(None, (cfg["os"], cfg["architecture"], cfg.get("variant"))))}
    out = set()
    for m in doc["manifests"]:
        p = m.get("platform") or {}
        if p.get("os") == "unknown":
            continue
        out.add("/".join(filter(None, (p.get("os"), p.get("architecture"), p.get("variant")))))
    return out


def digest_at(ref: str, env: Mapping[str, str]) -> str | None:
    res = run(
        ["docker", "buildx", "imagetools", "inspect", ref, "--format", "{{json .Manifest}}"], env
    )
    if res.returncode != 0:
        return None
    return str(json.loads(res.stdout)["digest"])


THREE = {"linux/amd64", "linux/arm64", "linux/arm/v7"}


def login(
    env: dict[str, str], registry: str, user: str, password: str
) -> subprocess.CompletedProcess[str]:
    """`docker login` with the password on stdin (into env's DOCKER_CONFIG)."""
    return subprocess.run(
        ["docker", "login", "-u", user, "--password-stdin", registry],
        input=password,
        env=env,
        capture_output=True,
        text=True,
    )
