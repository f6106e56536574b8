"""A scripted `docker` and registry for tests that run bakeguard as a user does (`python -m
bakeguard`, a process of its own): the docker answers the probe, reads bake's `--file`s as bake
does (`-` is stdin) and prints the last one as the definition; every call is logged with the
bytes each file gave it. The registry logs every request and answers from a dict."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

DOCKER = r"""#!/usr/bin/env python3
import json, os, sys, time
args = sys.argv[1:]
env = os.environ
def log(entry):
    with open(env["STUB_LOG"], "a") as f:
        f.write(json.dumps(entry) + "\n")
head = " ".join(args[:2])
if head in ("buildx version", "buildx inspect", "info --format"):
    log({"argv": args, "probe": True})
if head == "buildx version":
    print("github.com/docker/buildx " + env.get("STUB_BUILDX", "v0.38.2") + " 0123456789ab")
    sys.exit(0)
if head == "buildx inspect":
    print("Name: stub\nDriver: " + env.get("STUB_DRIVER", "docker-container") + "\n\nNodes:")
    print("Name: stub0\nEndpoint: unix:///x\nStatus: running\nBuildKit version: v0.20.0")
    print("Platforms: linux/amd64, linux/arm64")
    sys.exit(0)
if head == "info --format":
    print('{"driver_status":[["driver-type","io.containerd.snapshotter.v1"]],'
          '"registry":{},"plugins":[]}')
    sys.exit(0)
if args[:2] != ["buildx", "bake"]:
    log({"argv": args})
    sys.exit(0)
printing = "--print" in args
files, read = [], {}
i = 2
while i < len(args):
    a = args[i]
    if (a == "--file" or a in ("-f", "-Df")) and i + 1 < len(args):
        files.append(args[i + 1]); i += 1
    elif a.startswith("--file="):
        files.append(a[7:])
    i += 1
modes = {}  # each file's permissions and its folder's, as this bake finds them
for f in files:
    try:
        if f == "-":
            st = os.fstat(0)
            read[f] = sys.stdin.buffer.read().decode("utf-8", "replace")
            where = os.readlink("/proc/self/fd/0")
        else:
            st = os.stat(f)
            with open(f, "rb") as fh:
                read[f] = fh.read().decode("utf-8", "replace")
            where = os.path.realpath(f)
        if where.startswith("/"):  # (not a pipe)
            folder = os.stat(os.path.dirname(where)).st_mode & 0o777
            modes[f] = [st.st_mode & 0o777, folder, where]
    except OSError as e:
        read[f] = "ERROR " + str(e)
log({"argv": args, "read": read, "modes": modes, "pid": os.getpid()})
if printing:
    if env.get("STUB_PRINT_SLEEP"):
        print("stub: printing", file=sys.stderr, flush=True)
        time.sleep(float(env["STUB_PRINT_SLEEP"]))
    if env.get("STUB_PRINT_EXIT"):
        sys.stderr.write(env.get("STUB_PRINT_STDERR", ""))
        sys.exit(int(env["STUB_PRINT_EXIT"]))
    text = read[files[-1]] if files else open(env["STUB_DEFINITION"]).read()
    sys.stdout.write(text)
    sys.exit(0 if text.strip() else 1)
sys.stderr.write(env.get("STUB_BAKE_STDERR", ""))
sys.exit(int(env.get("STUB_BAKE_EXIT", "0")))
"""


@dataclass
class Registry:
    """An HTTP registry on 127.0.0.1: `manifests` by /v2/ path, every request logged."""

    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        reg = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self) -> None:
                reg.requests.append(f"{self.command} {self.path}")
                found = reg.manifests.get(self.path)
                if self.path == "/v2/":
                    found = ("application/json", b"{}")
                self.send_response(200 if found else 404)
                body = found[1] if found else b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'
                if found:
                    self.send_header("Content-Type", found[0])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_PUT = answer

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def push_image(reg: Registry, repo: str, platform: str) -> str:
    """A single-platform image in the registry (its config names the platform); its digest."""
    os_, arch = platform.split("/")[:2]
    config = json.dumps({"os": os_, "architecture": arch, "rootfs": {}}).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest(config),
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()
    reg.manifests[f"/v2/{repo}/blobs/{digest(config)}"] = ("application/octet-stream", config)
    reg.manifests[f"/v2/{repo}/manifests/{digest(manifest)}"] = (OCI_MANIFEST, manifest)
    return digest(manifest)


def push_index(reg: Registry, repo: str, tag: str, platforms: tuple[str, ...]) -> str:
    """A multi-platform tag in the registry, its images too; its digest."""
    manifests = []
    for p in platforms:
        os_, arch = p.split("/")[:2]
        d = push_image(reg, repo, p)
        manifests.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": d,
                "size": len(reg.manifests[f"/v2/{repo}/manifests/{d}"][1]),
                "platform": {"os": os_, "architecture": arch},
            }
        )
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
    reg.manifests[f"/v2/{repo}/manifests/{tag}"] = (OCI_INDEX, body.encode())
    reg.manifests[f"/v2/{repo}/manifests/{digest(body.encode())}"] = (OCI_INDEX, body.encode())
    return digest(body.encode())


def serve(reg: Registry) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), reg.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def definition(tags: list[str], platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64")) -> str:
    target = {
        "context": ".",
        "dockerfile": "Dockerfile",
        "platforms": list(platforms),
        "tags": tags,
        "output": [{"type": "image", "push": "true"}],
        # (the stub registry's images carry no attestation: none asked of them)
        "attest": [{"type": "provenance", "disabled": True}],
    }
    return json.dumps({"group": {"default": {"targets": ["app"]}}, "target": {"app": target}})


def environment(tmp: Path, **extra: str) -> dict[str, str]:
    """bakeguard's environment with the stub docker, a private cache and log."""
    exe = tmp / "stub-bin" / "docker"
    if not exe.exists():
        exe.parent.mkdir(parents=True)
        exe.write_text(DOCKER)
        exe.chmod(0o755)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BAKEGUARD_", "BUILDX_", "GITHUB_", "GITLAB")) and k != "CI"
    }
    env.update(
        {
            "BAKEGUARD_DOCKER": str(exe),
            "BAKEGUARD_LOG_FORMAT": "console",
            "XDG_CACHE_HOME": str(tmp / "cache"),
            "DOCKER_CONFIG": str(tmp / "docker-config"),
            "STUB_LOG": str(tmp / "stub.jsonl"),
            "PYTHONPATH": str(ROOT),
            "TMPDIR": str(tmp),
            **extra,
        }
    )
    return env


def calls(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """The stub's bake calls (and other logged calls), in order."""
    try:
        text = Path(env["STUB_LOG"]).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines()]


def bakes(env: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the `bake --print` calls, the other bake calls)."""
    found = [c for c in calls(env) if c["argv"][:2] == ["buildx", "bake"]]
    return [c for c in found if "--print" in c["argv"]], [
        c for c in found if "--print" not in c["argv"]
    ]


def bakeguard(
    args: list[str],
    env: Mapping[str, str],
    cwd: Path,
    stdin: bytes | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(
        [sys.executable, "-m", "bakeguard", *args],
        env=dict(env),
        cwd=cwd,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
    )
    return subprocess.CompletedProcess(
        p.args,
        p.returncode,
        p.stdout.decode("utf-8", "replace"),
        p.stderr.decode("utf-8", "replace"),
    )
