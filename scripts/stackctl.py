"""The project's real test ground:
`scripts/stack up | env | down | status | reset-engine | reset-registries`.

Everything is cached outside the checkout in $BAKEGUARD_STACK_DIR (default
~/.cache/bakeguard-stack):

  apt/      private apt sources, lists and downloaded .debs (the system's apt config is untouched)
  root/     the .debs unpacked with `dpkg -x` (dockerd, containerd, runc, docker-registry, buildx)
  go/       GOPATH/GOCACHE for the Go builds; src/ the module sources built as main modules
  bin/      buildx releases and buildkitd built from the Go module proxy
  configs/  one DOCKER_CONFIG per buildx version (cli-plugins/docker-buildx + builders)
  run/      sockets, data, logs and the pid of every process `up` started

`down` stops exactly the processes recorded in run/pids, by pid. `reset-engine` empties the
engine's image store (it only grows, and slows every bake as it does); `reset-registries`
empties the registries' storage (it only grows).
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

STACK = Path(os.environ.get("BAKEGUARD_STACK_DIR", Path.home() / ".cache" / "bakeguard-stack"))
APT, ROOT, GO, BIN, CONFIGS, RUN = (
    STACK / n for n in ("apt", "root", "go", "bin", "configs", "run")
)
PIDS, LOGS = RUN / "pids", RUN / "logs"

# buildx releases built from the Go module proxy; "newest" is resolved once and cached.
PINNED_BUILDX = ("v0.21.1", "v0.22.0")
KNOWN_REVISIONS = {"v0.21.1": "7c2359c6b", "v0.22.0": "18ccba072"}
BUILDKIT_VERSION = "v0.34.2"
BUILDX_MODULE = "github.com/docker/buildx"
# Registries other than Debian's distribution 2.8, built from the Go module proxy (issue #18).
DIST3_MODULE, DIST3_VERSION = "github.com/distribution/distribution/v3", "v3.1.2"
CRANE_MODULE, CRANE_VERSION = "github.com/google/go-containerregistry", "v0.22.1"

# (package, suite): dockerd/containerd from sid run on bookworm's glibc; sid's runc does not.
DEBS = (
    ("docker.io", "sid"),
    ("containerd", "sid"),
    ("docker-buildx", "trixie"),
    ("runc", "bookworm"),
    ("docker-registry", "bookworm"),
    ("docker-cli", "sid"),  # on PATH only where the machine has no docker
)
PLAIN_REGISTRY = "127.0.0.1:5000"
TLS_REGISTRY = "127.0.0.1:5443"
TLS_USER = "bakeguard"
DIST3_REGISTRY = "127.0.0.1:5001"  # distribution v3, plain HTTP
DIST3_AUTH_REGISTRY = "127.0.0.1:5002"  # distribution v3, plain HTTP + the :5443 htpasswd
CRANE_REGISTRY = "127.0.0.1:5003"  # go-containerregistry's `crane registry serve`
# name -> address of every real registry the tests push to over plain HTTP (loopback).
REGISTRIES = {
    "plain": PLAIN_REGISTRY,
    "dist3": DIST3_REGISTRY,
    "dist3-auth": DIST3_AUTH_REGISTRY,
    "crane": CRANE_REGISTRY,
}
# Fronts (tests/front.py) pick free ports in this range; BuildKit daemons allow plain HTTP there.
FRONT_PORTS = range(5100, 5140)
PLATFORMS = ("linux/amd64", "linux/arm64", "linux/arm/v7")


def log(msg: str) -> None:
    print(f"stack: {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, text=True, capture_output=True, **kw)  # type: ignore[call-overload]
    if res.returncode != 0:
        raise SystemExit(
            f"stack: command failed ({res.returncode}): {shlex.join(cmd)}\n{res.stdout}{res.stderr}"
        )
    return res  # type: ignore[no-any-return]


# ---------------------------------------------------------------- installing


def apt_opts() -> list[str]:
    return [
        "-o",
        "Dir::Etc::SourceList=/dev/null",
        "-o",
        f"Dir::Etc::SourceParts={APT / 'parts'}",
        "-o",
        f"Dir::State::Lists={APT / 'lists'}",
        "-o",
        f"Dir::Cache={APT / 'cache'}",
        "-o",
        "Debug::NoLocking=1",
        "-o",
        "APT::Sandbox::User=root",
    ]


def system_sources_stanza() -> dict[str, str]:
    """Types/URIs/Signed-By of the system's own Debian stanza: only Suites changes."""
    for f in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        fields: dict[str, str] = {}
        for line in f.read_text().splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                fields.setdefault(k.strip(), v.strip())
        if "debian" in fields.get("URIs", "") and "security" not in fields.get("URIs", ""):
            return fields
    # No archive of our own choosing: the machine's sources say where Debian is.
    raise SystemExit(
        "stack: no Debian stanza in /etc/apt/sources.list.d/*.sources; "
        "the private apt lists copy its URIs and Signed-By"
    )


def install_debs() -> bool:
    debs = list(DEBS)
    stamp = ROOT / ".debs"
    key = json.dumps(debs)
    if stamp.exists() and stamp.read_text() == key:
        return False
    s = system_sources_stanza()
    (APT / "parts").mkdir(parents=True, exist_ok=True)
    (APT / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (APT / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (APT / "parts" / "bakeguard.sources").write_text(
        f"Types: {s['Types']}\nURIs: {s['URIs']}\nSuites: bookworm trixie sid\n"
        f"Components: main\nSigned-By: {s['Signed-By']}\n"
    )
    log("apt-get update (private lists)")
    run(["apt-get", *apt_opts(), "update"])
    debdir = APT / "debs"
    shutil.rmtree(debdir, ignore_errors=True)
    debdir.mkdir(parents=True)
    log("apt-get download " + " ".join(f"{p}/{s}" for p, s in debs))
    run(["apt-get", *apt_opts(), "download", *(f"{p}/{s}" for p, s in debs)], cwd=debdir)
    shutil.rmtree(ROOT, ignore_errors=True)
    ROOT.mkdir(parents=True)
    for deb in sorted(debdir.glob("*.deb")):
        run(["dpkg", "-x", str(deb), str(ROOT)])
    stamp.write_text(key)
    return True


def go_binary() -> str:
    """go from PATH, else the usual install places (CI's PATH may not name them)."""
    for candidate in (shutil.which("go"), "/usr/local/go/bin/go", "/usr/lib/go/bin/go"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise SystemExit("stack: `go` was not found (PATH, /usr/local/go/bin); it builds buildx")


def go_env() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(go_binary()).parent}:{os.environ.get('PATH', '')}",
        "GOPATH": str(GO),
        "GOCACHE": str(GO / "cache"),
        "GOMODCACHE": str(GO / "pkg" / "mod"),
        "CGO_ENABLED": "0",
        "GOFLAGS": "-buildvcs=false",
        "GOTOOLCHAIN": "local",
    }


def newest_buildx() -> str:
    cached = STACK / "newest-buildx"
    if cached.exists():
        return cached.read_text().strip()
    # The Go toolchain asks whichever module proxy GOPROXY names; we name none ourselves.
    listed = run([go_binary(), "list", "-m", "-versions", BUILDX_MODULE], env=go_env()).stdout
    tags = [t for t in listed.split()[1:] if "-" not in t]

    def key(t: str) -> tuple[int, ...]:
        return tuple(int(x) for x in t.lstrip("v").split("."))

    newest: str = max(tags, key=key)
    STACK.mkdir(parents=True, exist_ok=True)
    cached.write_text(newest)
    return newest


def go_build(module: str, version: str, pkg: str, out: str, ldflags: str = "") -> bool:
    """Build a module's command as the main module (its replace/exclude directives apply,
    which `go install pkg@version` refuses)."""
    target = BIN / out
    if target.exists():
        return False
    env = go_env()
    info = json.loads(
        run([go_binary(), "mod", "download", "-json", f"{module}@{version}"], env=env).stdout
    )
    src = GO / "src" / out
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(info["Dir"], src)
    for p in [src, *src.rglob("*")]:
        p.chmod(p.stat().st_mode | 0o200)
    log(f"go build {module}@{version} ./{pkg}")
    t0 = time.monotonic()
    BIN.mkdir(parents=True, exist_ok=True)
    cmd = [go_binary(), "build", "-mod=mod", "-trimpath", "-o", str(target) + ".tmp"]
    if ldflags:
        cmd += ["-ldflags", ldflags]
    run([*cmd, f"./{pkg}"], env=env, cwd=src)
    (BIN / (out + ".tmp")).rename(target)
    shutil.rmtree(src, ignore_errors=True)
    log(f"built {out} in {time.monotonic() - t0:.1f}s")
    return True


def build_go_parts(newest: str) -> bool:
    built = False
    for v in (*PINNED_BUILDX, newest):
        rev = KNOWN_REVISIONS.get(v, "unknown")
        flags = (
            f"-X github.com/docker/buildx/version.Version={v} "
            f"-X github.com/docker/buildx/version.Revision={rev}"
        )
        built |= go_build("github.com/docker/buildx", v, "cmd/buildx", f"buildx-{v}", flags)
    bk_flags = f"-X github.com/moby/buildkit/version.Version={BUILDKIT_VERSION}"
    built |= go_build(
        "github.com/moby/buildkit", BUILDKIT_VERSION, "cmd/buildkitd", "buildkitd", bk_flags
    )
    built |= go_build(DIST3_MODULE, DIST3_VERSION, "cmd/registry", DIST3_BIN)
    crane_flags = f"-X {CRANE_MODULE}/cmd/crane/cmd.Version={CRANE_VERSION}"
    built |= go_build(CRANE_MODULE, CRANE_VERSION, "cmd/crane", CRANE_BIN, crane_flags)
    return built


DIST3_BIN = f"distribution-{DIST3_VERSION}"
CRANE_BIN = f"crane-{CRANE_VERSION}"


def buildx_labels(newest: str) -> dict[str, Path]:
    """label -> buildx plugin binary; 'debian' is Debian trixie's 0.13.1+ds1."""
    plugins = {"debian": ROOT / "usr/libexec/docker/cli-plugins/docker-buildx"}
    for v in (*PINNED_BUILDX, newest):
        plugins[v] = BIN / f"buildx-{v}"
    return plugins


def make_configs(newest: str) -> None:
    for label, plugin in buildx_labels(newest).items():
        d = CONFIGS / label / "cli-plugins"
        d.mkdir(parents=True, exist_ok=True)
        dst = d / "docker-buildx"
        if not dst.exists() or dst.stat().st_mtime < plugin.stat().st_mtime:
            shutil.copy2(plugin, dst)


# ---------------------------------------------------------------- processes


@dataclass(frozen=True)
class Proc:
    name: str
    argv: list[str]

    @property
    def pidfile(self) -> Path:
        return PIDS / f"{self.name}.pid"


def alive(name: str) -> int | None:
    """The pid we recorded for NAME if that process still runs the binary we started."""
    pf = PIDS / f"{name}.pid"
    try:
        pid_s, exe = pf.read_text().split("\n", 1)
        pid = int(pid_s)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (OSError, ValueError):
        return None
    return pid if cmdline == exe.strip() else None


def _alive_after(name: str, wait: float) -> int | None:
    """A second look: right after a restart of the engine, /proc briefly showed a starting
    containerd as not running the binary we started (seen with reset-engine)."""
    time.sleep(wait)
    return alive(name)


def start(proc: Proc, env: dict[str, str]) -> bool:
    if alive(proc.name):
        return False
    PIDS.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / f"{proc.name}.log", "ab") as logf:
        p = subprocess.Popen(
            proc.argv,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    proc.pidfile.write_text(f"{p.pid}\n{proc.argv[0]}\n")
    return True


def stop(name: str) -> None:
    pid = alive(name)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and alive(name):
            time.sleep(0.05)
        if alive(name):
            log(f"{name} (pid {pid}) ignored SIGTERM; SIGKILL")
            os.kill(pid, signal.SIGKILL)
            while alive(name):
                time.sleep(0.05)
        log(f"stopped {name} (pid {pid})")
    (PIDS / f"{name}.pid").unlink(missing_ok=True)


def wait_for(what: str, check: object, timeout: float = 60.0, name: str = "") -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception as e:  # readiness probes fail in many ways until ready
            last = e
        if name and not alive(name) and not _alive_after(name, 0.3):
            tail = (LOGS / f"{name}.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"stack: {name} exited while starting; log tail:\n{tail}")
        time.sleep(0.05)
    raise SystemExit(f"stack: {what} not ready after {timeout:.0f}s ({last})")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self._path)
        self.sock = s


def unix_ping(path: Path) -> bool:
    c = UnixHTTPConnection(str(path))
    c.request("GET", "/_ping")
    return c.getresponse().status == 200


def unix_connects(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(path))
    return True


def http_status(url: str, ctx: ssl.SSLContext | None = None) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2, context=ctx) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def sbin_env() -> dict[str, str]:
    path = f"{ROOT / 'usr/sbin'}:{ROOT / 'usr/bin'}:{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path}


def make_tls() -> Path:
    """CA + server certificate (trustme) and an htpasswd file (bcrypt) for the :5443 registry."""
    d = RUN / "registry-tls"
    if (d / "htpasswd").exists():
        return d
    import bcrypt
    import trustme

    d.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    cert.private_key_pem.write_to_path(str(d / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
    password = os.urandom(12).hex()
    (d / "password").write_text(password)
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=6)).decode()
    (d / "htpasswd").write_text(f"{TLS_USER}:{hashed}\n")
    # The layout docker uses for per-registry CAs (/etc/docker/certs.d/HOST/ca.crt), kept here.
    for host in (TLS_REGISTRY, f"localhost:{TLS_REGISTRY.split(':')[1]}"):
        (RUN / "certs.d" / host).mkdir(parents=True, exist_ok=True)
        shutil.copy(d / "ca.pem", RUN / "certs.d" / host / "ca.crt")
    return d


def registry_config(name: str, addr: str, tls: Path | None, htpasswd: Path | None = None) -> Path:
    """A distribution config (2.8 and v3 read the same): `tls` serves HTTPS with the
    htpasswd beside the certificate; `htpasswd` alone is basic auth over plain HTTP."""
    d = RUN / name
    d.mkdir(parents=True, exist_ok=True)
    lines = [
        "version: 0.1",
        "log: {level: warn}",
        f"storage: {{filesystem: {{rootdirectory: {d / 'data'}}}, delete: {{enabled: true}}}}",
        "http:",
        f"  addr: {addr}",
        "  secret: bakeguard-test-stack",
    ]
    if tls:
        lines.append(f"  tls: {{certificate: {tls / 'cert.pem'}, key: {tls / 'key.pem'}}}")
        htpasswd = tls / "htpasswd"
    if htpasswd:
        lines.append(f"auth: {{htpasswd: {{realm: bakeguard-stack, path: {htpasswd}}}}}")
    (d / "config.yml").write_text("\n".join(lines) + "\n")
    return d / "config.yml"


def buildkitd_config(n: int, tls: Path) -> Path:
    d = RUN / f"buildkit{n}"
    d.mkdir(parents=True, exist_ok=True)
    hosts = [h for a in REGISTRIES.values() for h in (a, localhost(a))] + [
        f"{h}:{p}" for p in FRONT_PORTS for h in ("127.0.0.1", "localhost")
    ]
    text = "[worker.oci]\n  enabled = true\n[worker.containerd]\n  enabled = false\n"
    for h in hosts:
        text += f'[registry."{h}"]\n  http = true\n'
    for h in (TLS_REGISTRY, "localhost:5443"):
        # explicit: BuildKit (containerd's resolver) defaults localhost to plain HTTP
        text += f'[registry."{h}"]\n  http = false\n  ca = ["{tls / "ca.pem"}"]\n'
    (d / "buildkitd.toml").write_text(text)
    return d / "buildkitd.toml"


def localhost(addr: str) -> str:
    """127.0.0.1:PORT -> localhost:PORT (tests tag with localhost, as users of a local
    registry do)."""
    return f"localhost:{addr.rsplit(':', 1)[1]}"


def otel_off(env: dict[str, str]) -> dict[str, str]:
    """distribution v3 exports OpenTelemetry to 127.0.0.1:4318 unless told not to (its log
    then fills with failed exports); it reads the standard variables."""
    return {
        **env,
        "OTEL_SDK_DISABLED": "true",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }


def sockets() -> dict[str, Path]:
    return {
        "containerd": RUN / "containerd.sock",
        "docker": RUN / "docker.sock",
        "buildkit1": RUN / "buildkit1.sock",
        "buildkit2": RUN / "buildkit2.sock",
    }


def start_services() -> None:
    env = sbin_env()
    socks = sockets()
    tls = make_tls()

    cdir = RUN / "containerd"
    cdir.mkdir(parents=True, exist_ok=True)
    (cdir / "config.toml").write_text(
        "version = 3\n"
        f'root = "{cdir / "root"}"\nstate = "{cdir / "state"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{socks["containerd"]}"\n'
        f'[ttrpc]\n  address = "{socks["containerd"]}.ttrpc"\n'
    )
    started = start(
        Proc(
            "containerd", [str(ROOT / "usr/bin/containerd"), "--config", str(cdir / "config.toml")]
        ),
        env,
    )
    wait_for("containerd", lambda: unix_connects(socks["containerd"]), name="containerd")

    ddir = RUN / "docker"
    ddir.mkdir(parents=True, exist_ok=True)
    daemon = {
        "features": {"containerd-snapshotter": True},
        "iptables": False,
        "ip6tables": False,
        "bridge": "none",
        "insecure-registries": [h for a in REGISTRIES.values() for h in (localhost(a), a)],
    }
    daemon_json = ddir / "daemon.json"
    old = daemon_json.read_text() if daemon_json.exists() else ""
    daemon_json.write_text(json.dumps(daemon))
    running = alive("dockerd")
    if running and old != daemon_json.read_text():
        # dockerd reloads insecure-registries on SIGHUP: a running engine learns new
        # registries without a restart (buildkitd reads its config at its next start only;
        # until then containerd's resolver allows plain HTTP to loopback anyway).
        os.kill(running, signal.SIGHUP)
        log("dockerd: daemon.json changed, reloaded (SIGHUP)")
    started |= start(
        Proc(
            "dockerd",
            [
                str(ROOT / "usr/sbin/dockerd"),
                "--config-file",
                str(ddir / "daemon.json"),
                "--data-root",
                str(ddir / "data"),
                "--exec-root",
                str(RUN / "dx"),
                "--pidfile",
                str(ddir / "dockerd.pid"),
                "-H",
                f"unix://{socks['docker']}",
                "--containerd",
                str(socks["containerd"]),
            ],
        ),
        env,
    )

    reg = ROOT / "usr/bin/docker-registry"
    started |= start(
        Proc(
            "registry", [str(reg), "serve", str(registry_config("registry", PLAIN_REGISTRY, None))]
        ),
        env,
    )
    started |= start(
        Proc(
            "registry-tls",
            [str(reg), "serve", str(registry_config("registry-tls-data", TLS_REGISTRY, tls))],
        ),
        env,
    )
    dist3 = str(BIN / DIST3_BIN)
    started |= start(
        Proc(
            "registry-dist3",
            [dist3, "serve", str(registry_config("registry-dist3", DIST3_REGISTRY, None))],
        ),
        otel_off(env),
    )
    started |= start(
        Proc(
            "registry-dist3-auth",
            [
                dist3,
                "serve",
                str(
                    registry_config(
                        "registry-dist3-auth", DIST3_AUTH_REGISTRY, None, tls / "htpasswd"
                    )
                ),
            ],
        ),
        otel_off(env),
    )
    crane_dir = RUN / "registry-crane"
    # crane writes each upload to a temporary file in --disk and never makes the folder.
    (crane_dir / "data").mkdir(parents=True, exist_ok=True)
    started |= start(
        Proc(
            "registry-crane",
            [
                str(BIN / CRANE_BIN),
                "registry",
                "serve",
                "--disk",
                str(crane_dir / "data"),
                "--address",
                CRANE_REGISTRY,
            ],
        ),
        env,
    )
    for n in (1, 2):
        started |= start(
            Proc(
                f"buildkit{n}",
                [
                    str(BIN / "buildkitd"),
                    "--root",
                    str(RUN / f"buildkit{n}" / "root"),
                    "--addr",
                    f"unix://{socks[f'buildkit{n}']}",
                    "--config",
                    str(buildkitd_config(n, tls)),
                    "--otel-socket-path",
                    str(RUN / f"buildkit{n}-otel.sock"),
                    "--oci-worker=true",
                    "--containerd-worker=false",
                ],
            ),
            env,
        )
    ctx = ssl.create_default_context(cafile=str(tls / "ca.pem"))
    wait_for("dockerd", lambda: unix_ping(socks["docker"]), name="dockerd")
    wait_for(
        "registry", lambda: http_status(f"http://{PLAIN_REGISTRY}/v2/") == 200, name="registry"
    )
    wait_for(
        "registry-tls",
        lambda: http_status("https://localhost:5443/v2/", ctx) == 401,
        name="registry-tls",
    )
    for name, addr, ready in (
        ("registry-dist3", DIST3_REGISTRY, 200),
        ("registry-dist3-auth", DIST3_AUTH_REGISTRY, 401),
        ("registry-crane", CRANE_REGISTRY, 200),
    ):
        wait_for(name, lambda a=addr, r=ready: http_status(f"http://{a}/v2/") == r, name=name)
    for n in (1, 2):
        wait_for(
            f"buildkit{n}", lambda n=n: unix_connects(socks[f"buildkit{n}"]), name=f"buildkit{n}"
        )
    if started:
        log("services started")


def docker_bin() -> str:
    found = shutil.which("docker")
    return found or str(ROOT / "usr/bin/docker")


def setup_builders(newest: str) -> None:
    """In every DOCKER_CONFIG: `bg-remote` (one buildkitd, all platforms) and `bg-multi`
    (node 1 linux/amd64, node 2 linux/arm64 + linux/arm/v7: buildx's multi-node merge)."""
    socks = sockets()
    for label in buildx_labels(newest):
        cfg = CONFIGS / label
        env = {**os.environ, "DOCKER_CONFIG": str(cfg), "DOCKER_HOST": f"unix://{socks['docker']}"}
        have = subprocess.run(
            [docker_bin(), "buildx", "ls"], env=env, text=True, capture_output=True
        ).stdout
        if "bg-remote" not in have:
            run(
                [
                    docker_bin(),
                    "buildx",
                    "create",
                    "--name",
                    "bg-remote",
                    "--driver",
                    "remote",
                    f"unix://{socks['buildkit1']}",
                ],
                env=env,
            )
        if "bg-multi" not in have:
            run(
                [
                    docker_bin(),
                    "buildx",
                    "create",
                    "--name",
                    "bg-multi",
                    "--driver",
                    "remote",
                    "--node",
                    "bg-multi0",
                    "--platform",
                    "linux/amd64",
                    f"unix://{socks['buildkit1']}",
                ],
                env=env,
            )
            run(
                [
                    docker_bin(),
                    "buildx",
                    "create",
                    "--append",
                    "--name",
                    "bg-multi",
                    "--driver",
                    "remote",
                    "--node",
                    "bg-multi1",
                    "--platform",
                    "linux/arm64,linux/arm/v7",
                    f"unix://{socks['buildkit2']}",
                ],
                env=env,
            )


def env_exports() -> dict[str, str]:
    newest = newest_buildx()
    socks = sockets()
    tls = RUN / "registry-tls"
    path = os.environ.get("PATH", "")
    if not shutil.which("docker"):
        path = f"{ROOT / 'usr/bin'}:{path}"
    return {
        "DOCKER_HOST": f"unix://{socks['docker']}",
        "DOCKER_CONFIG": str(CONFIGS / newest),
        "PATH": path,
        "BAKEGUARD_STACK_DIR": str(STACK),
        "BAKEGUARD_STACK_CONFIGS": str(CONFIGS),
        "BAKEGUARD_STACK_BUILDX": " ".join(buildx_labels(newest)),
        "BAKEGUARD_STACK_NEWEST": newest,
        "BAKEGUARD_STACK_REGISTRY": PLAIN_REGISTRY,
        "BAKEGUARD_STACK_REGISTRIES": " ".join(f"{k}={v}" for k, v in REGISTRIES.items()),
        "BAKEGUARD_STACK_TLS_REGISTRY": f"localhost:{TLS_REGISTRY.split(':')[1]}",
        "BAKEGUARD_STACK_TLS_USER": TLS_USER,
        "BAKEGUARD_STACK_TLS_PASSWORD_FILE": str(tls / "password"),
        "BAKEGUARD_STACK_CA": str(tls / "ca.pem"),
        "BAKEGUARD_STACK_CERTS_D": str(RUN / "certs.d"),
        "BAKEGUARD_STACK_BUILDKIT1": f"unix://{socks['buildkit1']}",
        "BAKEGUARD_STACK_BUILDKIT2": f"unix://{socks['buildkit2']}",
        "BAKEGUARD_STACK_FRONT_PORTS": f"{FRONT_PORTS.start}-{FRONT_PORTS.stop - 1}",
    }


NAMES = (
    "buildkit2",
    "buildkit1",
    "registry-crane",
    "registry-dist3-auth",
    "registry-dist3",
    "registry-tls",
    "registry",
    "dockerd",
    "containerd",
)
# name -> storage folder under RUN of every registry (reset-registries empties them).
REGISTRY_DATA = {
    "registry": "registry",
    "registry-tls": "registry-tls-data",
    "registry-dist3": "registry-dist3",
    "registry-dist3-auth": "registry-dist3-auth",
    "registry-crane": "registry-crane",
}


def cmd_up() -> int:
    t0 = time.monotonic()
    if os.geteuid() != 0:
        raise SystemExit("stack: `up` needs root (dockerd, containerd, buildkitd with runc)")
    for tool in ("apt-get", "dpkg"):
        if not shutil.which(tool):
            raise SystemExit(f"stack: `{tool}` is not on PATH; it is needed to build the stack")
    go_binary()
    newest = newest_buildx()
    cold = install_debs()
    cold |= build_go_parts(newest)
    make_configs(newest)
    start_services()
    setup_builders(newest)
    versions = {
        label: run([str(p), "version"]).stdout.strip() for label, p in buildx_labels(newest).items()
    }
    for label, v in versions.items():
        log(f"buildx {label}: {v}")
    took = time.monotonic() - t0
    log(f"{'cold' if cold else 'warm'} up in {took:.1f}s (cache: {STACK})")
    return 0


def cmd_env() -> int:
    for k, v in env_exports().items():
        print(f"export {k}={shlex.quote(v)}")
    return 0


def cmd_down() -> int:
    for name in NAMES:
        stop(name)
    return 0


def cmd_reset_engine() -> int:
    """The engine's image store and build cache only grow (every docker-driver test and bench
    run leaves an image); past a few hundred images every bake slows down. This stops dockerd
    and containerd, deletes their data, and starts the stack again: registries, builders and
    the Go/apt caches are kept."""
    for name in ("dockerd", "containerd"):
        stop(name)
    for d in (RUN / "containerd" / "root", RUN / "containerd" / "state", RUN / "docker" / "data"):
        shutil.rmtree(d, ignore_errors=True)
    log("engine data removed")
    return cmd_up()


def cmd_reset_registries() -> int:
    """The registries' storage only grows too (every test and bench push stays; a bench run
    adds a few GB of 20 MB layers). This stops every registry, deletes their data and starts
    the stack again."""
    for name, data in REGISTRY_DATA.items():
        stop(name)
        shutil.rmtree(RUN / data / "data", ignore_errors=True)
    log("registry data removed")
    return cmd_up()


def cmd_status() -> int:
    rc = 0
    for name in reversed(NAMES):
        pid = alive(name)
        print(f"{name:20} {'running pid ' + str(pid) if pid else 'stopped'}")
        rc |= pid is None
    return rc


def main(argv: list[str]) -> int:
    cmds = {
        "up": cmd_up,
        "env": cmd_env,
        "down": cmd_down,
        "status": cmd_status,
        "reset-engine": cmd_reset_engine,
        "reset-registries": cmd_reset_registries,
    }
    if len(argv) != 1 or argv[0] not in cmds:
        print(
            "usage: scripts/stack up|env|down|status|reset-engine|reset-registries",
            file=sys.stderr,
        )
        return 2
    if argv[0] in ("env", "status"):
        return cmds[argv[0]]()
    # Two `up`s at once (two checkouts' test runs) would build into the same source folder
    # and start the same services twice: one waits for the other, then finds it all done.
    STACK.mkdir(parents=True, exist_ok=True)
    with open(STACK / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return cmds[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
