"""A misbehaving registry front: a proxy of ours in front of the real registry.

Each mode reproduces something registries in the field do (see shared advisories research):

- ``msr``: the Docker engine's HEAD of a manifest by tag answers 404, and an index the engine
  PUTs by tag is stored as its first platform's manifest only (buildx #3070, Mirantis MSR).
  With ``msr_error`` that PUT then answers 404 MANIFEST_UNKNOWN, so bake exits 1 with the
  tag holding one platform, as the lab saw with buildx 0.13.1 and 0.21.1.
- ``engine-oci-error``: only the engine's second push fails, and only with an OCI index: as
  with ``msr``, the engine's read of a tag it has not PUT itself answers 404 (so it PUTs), and
  its PUT of an OCI index by tag answers 404 "OCI index found, but accept header does not
  support OCI indexes" (what the lab saw the engine's second push end with), storing nothing.
  BuildKit's pushes pass, and so does the engine's Docker manifest list: a docker-v2 retry
  "works", by accident.
- ``flaky``: every Nth manifest/blob request answers 503 or 429 (alternating) with Retry-After
  (optionally only for one client, by User-Agent). With ``flaky_head_body`` those answers to a
  HEAD carry their body too, which HTTP forbids, as a front that writes its error page
  whatever the method (a moment after the head, as a second write).
- ``lag``: a manifest GET/HEAD by tag answers 404 for N seconds after that tag was PUT.
- ``docker-v2-only``: a PUT of any OCI media type answers 400 MANIFEST_INVALID.
- ``reject-indexes``: a PUT of any index (OCI or Docker manifest list) answers 400
  MANIFEST_INVALID, as a registry without multi-platform support: no profile helps.
- ``no-attestations``: a PUT of an index holding ``unknown/unknown`` entries answers 400.
- ``refuse-referrers``: a PUT of a manifest with a ``subject`` or an ``artifactType`` (the OCI
  artifact form BuildKit >= 0.32 gives attestations) is refused as GitLab's registry does
  (``gitlab``: "blob unknown to registry - sha256:<subject>", moby/buildkit#7007) or as
  Aliyun ACR does (``aliyun``: 403 "unknown manifest class for
  application/vnd.oci.empty.v1+json", the artifact's empty config).
- ``truncate``: like ``msr``'s storage, for every client (any index PUT by tag keeps its first
  platform only).
- ``deny-writes``: a manifest PUT from one client (by User-Agent) answers 403 DENIED, as a
  registry whose policy lets only some clients write.
- ``bearer``: token auth (401 + ``WWW-Authenticate: Bearer``; a token endpoint that checks
  basic credentials).
- ``silent``: accepts every connection and never answers (not even a TLS handshake), as a
  registry behind a dead load balancer or a stuck proxy; ``reached`` is set at the first one.
- ``reset``: accepts every connection and closes it at once, unanswered.
- ``hold-agent``: requests from one client (by User-Agent) are never answered while the
  front runs, as a registry stuck mid-write; ``held`` is set at the first one.
- ``slow-reads``: a manifest GET by tag from one client (by User-Agent) is answered only
  after a few seconds, as a slow registry (a read then sees what others wrote meanwhile).

Like Go's plain-HTTP servers, it answers a TLS client hello with an HTTP 400, so Go clients
(dockerd, BuildKit) that try HTTPS first fall back to plain HTTP. Started with a TLS context,
it speaks HTTPS instead (a registry under a name of the test's choosing, with its own CA).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import re
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MANIFEST_RE = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/?]+)$")
BLOB_RE = re.compile(r"^/v2/(?P<name>.+)/blobs/")
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
ACCEPT_ALL = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
# distribution's words for an OCI index read without accepting one (engine-oci-error mode)
ENGINE_OCI_ERROR = (
    "manifest unknown: OCI index found, but accept header does not support OCI indexes"
)
GO_TLS_ANSWER = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"


@dataclass
class Seen:
    method: str
    path: str
    agent: str
    status: int
    content_type: str = ""


@dataclass
class Modes:
    msr: bool = False
    flaky_every: int = 0  # 0 = off
    flaky_retry_after: int = 0
    flaky_agent: str = ""  # only requests whose User-Agent contains this (imagetools: containerd/)
    flaky_head_body: bool = False  # flaky answers to HEAD carry their body (HTTP forbids it)
    lag_seconds: float = 0.0
    docker_v2_only: bool = False
    no_attestations: bool = False
    refuse_referrers: str = ""  # "gitlab" | "aliyun": manifests with subject/artifactType
    deny_writes_agent: str = ""  # manifest PUTs from this User-Agent: 403
    bearer: tuple[str, str] | None = None  # (user, password)
    truncate: bool = False  # like msr's storage, for every client: any index PUT by tag
    reject_indexes: bool = False  # any index PUT (OCI or Docker list): 400 MANIFEST_INVALID
    msr_error: bool = False  # with msr: the engine's truncated PUT then answers 404 (bake exit 1)
    engine_oci_error: bool = False  # the engine's reads by tag and OCI index PUTs: 404
    silent: bool = False  # connections accepted, never answered
    reset: bool = False  # connections accepted, closed unanswered
    hold_agent: str = ""  # requests from this User-Agent: never answered (`held` is set)
    slow_reads: tuple[str, float] | None = None  # (User-Agent, seconds): manifest GETs by tag


@dataclass
class Front:
    """Start with ``Front.start(upstream)``; set ``front.modes`` per test; ``stop()`` after."""

    upstream: tuple[str, int]
    port: int = 0
    modes: Modes = field(default_factory=Modes)
    seen: list[Seen] = field(default_factory=list)
    pushed_at: dict[str, float] = field(default_factory=dict)
    counter: int = 0
    tokens: set[str] = field(default_factory=set)
    msr_acked: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    engine_put: set[str] = field(default_factory=set)  # tags the engine PUT (engine_oci_error)
    lock: threading.Lock = field(default_factory=threading.Lock)
    tls: ssl.SSLContext | None = None
    reached: threading.Event = field(default_factory=threading.Event)  # a silent connection
    held: threading.Event = field(default_factory=threading.Event)  # a request held (hold_agent)
    stopped: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(cls, upstream: str, ports: range, tls: ssl.SSLContext | None = None) -> Front:
        host, port_s = upstream.rsplit(":", 1)
        front = cls(upstream=(host, int(port_s)), tls=tls)
        for port in ports:
            try:
                server = _Server(("127.0.0.1", port), _Handler)
            except OSError:
                continue
            server.front = front
            front.port = port
            front._server = server
            threading.Thread(target=server.serve_forever, daemon=True).start()
            return front
        raise RuntimeError(f"no free port for a registry front in {ports}")

    def stop(self) -> None:
        self.stopped.set()  # silent connections end with the front
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def count(self, method: str, pattern: str, agent: str = "") -> int:
        rx = re.compile(pattern)
        return sum(
            1 for s in self.seen if s.method == method and rx.search(s.path) and agent in s.agent
        )

    # -------------------------------------------------------------- upstream

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.getheaders(), data
        finally:
            conn.close()

    def get_manifest(self, name: str, ref: str) -> tuple[str, bytes]:
        status, headers, data = self.forward(
            "GET", f"/v2/{name}/manifests/{ref}", {"Accept": ACCEPT_ALL}, None
        )
        if status != 200:
            raise RuntimeError(f"front: upstream GET {name}@{ref} answered {status}")
        ctype = next(v for k, v in headers if k.lower() == "content-type")
        return ctype, data


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    front: Front


def _error(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        front = self.server.front
        if front.modes.silent or front.modes.reset:
            return  # handle() holds or drops the connection; nothing is read or written
        tls = front.tls
        if tls is not None:  # the handshake runs here, in the connection's own thread
            self.request = tls.wrap_socket(self.request, server_side=True)
            super().setup()
            return
        super().setup()
        try:
            first = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            first = b""
        if first == b"\x16":  # a TLS handshake record: answer as Go's plain-HTTP server does
            self.connection.sendall(GO_TLS_ANSWER)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def handle(self) -> None:
        front = self.server.front
        if front.modes.silent:
            front.reached.set()
            front.stopped.wait()
            return
        if front.modes.reset:
            with contextlib.suppress(OSError):
                self.request.shutdown(socket.SHUT_RDWR)
            return
        with contextlib.suppress(ConnectionError, OSError):
            super().handle()

    def finish(self) -> None:
        front = self.server.front
        if front.modes.silent or front.modes.reset:
            return  # setup() made no streams to flush
        super().finish()

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return (
            self.rfile.read(length)
            if length
            else (b"" if self.command in ("PUT", "POST", "PATCH") else None)
        )

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        front = self.server.front
        with front.lock:
            front.seen.append(
                Seen(
                    self.command,
                    self.path,
                    self.headers.get("User-Agent", ""),
                    status,
                    self.headers.get("Content-Type", ""),
                )
            )
        self.send_response(status)
        has_len = False
        for k, v in headers:
            kl = k.lower()
            if kl in HOP or kl in {"date", "server"}:
                continue
            if kl == "content-length":
                has_len = True
                if self.command != "HEAD":
                    v = str(len(body))  # noqa: PLW2901
            self.send_header(k, v)
        if not has_len:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _fail(
        self, status: int, code: str, message: str, extra: Sequence[tuple[str, str]] = ()
    ) -> None:
        body = _error(code, message)
        self._send(status, [("Content-Type", "application/json"), *extra], body)

    def _is_engine(self) -> bool:
        # The engine's own pusher (the second push) identifies as "docker/<version> ...";
        # BuildKit's pushes, even inside dockerd, identify as "buildkit/..." or containerd.
        ua = self.headers.get("User-Agent", "")
        return ua.startswith("docker/") and "buildkit" not in ua.lower()

    def _do(self) -> None:
        front = self.server.front
        modes = front.modes
        path = self.path.split("?", 1)[0]
        body = self._body()
        m = MANIFEST_RE.match(path)
        by_tag = bool(m) and not m.group("ref").startswith("sha256:")  # type: ignore[union-attr]

        if path == "/token" and modes.bearer:
            return self._token()
        if modes.bearer and path.startswith("/v2") and not self._bearer_ok():
            name_m = re.match(r"^/v2/(.+)/(manifests|blobs|tags)/", path)
            scope = f"repository:{name_m.group(1)}:pull,push" if name_m else ""
            challenge = f'Bearer realm="http://{front.addr}/token",service="bakeguard-front"' + (
                f',scope="{scope}"' if scope else ""
            )
            return self._fail(
                401, "UNAUTHORIZED", "authentication required", [("WWW-Authenticate", challenge)]
            )

        agent = self.headers.get("User-Agent", "")
        if modes.hold_agent and modes.hold_agent in agent:
            front.held.set()
            front.stopped.wait()
            self.close_connection = True
            return None
        if modes.slow_reads and by_tag and self.command == "GET":
            slow_agent, seconds = modes.slow_reads
            if slow_agent in agent:
                time.sleep(seconds)
        if modes.flaky_every and (m or BLOB_RE.match(path)) and modes.flaky_agent in agent:
            with front.lock:
                front.counter += 1
                n = front.counter
            if n % modes.flaky_every == 0:
                status = 503 if (n // modes.flaky_every) % 2 else 429
                code = "UNAVAILABLE" if status == 503 else "TOOMANYREQUESTS"
                retry = [("Retry-After", str(modes.flaky_retry_after))]
                self._fail(status, code, "front: flaky mode", retry)
                if modes.flaky_head_body and self.command == "HEAD":
                    time.sleep(0.02)  # the body a moment after the head, as its own write
                    self.wfile.write(_error(code, "front: flaky mode"))
                return None

        deny = modes.deny_writes_agent
        if m and self.command == "PUT" and deny and deny in agent:
            return self._fail(403, "DENIED", "front: deny-writes mode")

        if m and by_tag and self.command in ("GET", "HEAD") and modes.lag_seconds:
            key = f"{m.group('name')}:{m.group('ref')}"
            put = front.pushed_at.get(key)
            if put is not None and time.monotonic() - put < modes.lag_seconds:
                return self._fail(404, "MANIFEST_UNKNOWN", "front: lag mode (not yet visible)")

        if m and by_tag and modes.engine_oci_error and self._is_engine():
            key = f"{m.group('name')}:{m.group('ref')}"
            if self.command in ("GET", "HEAD") and key not in front.engine_put:
                return self._fail(404, "MANIFEST_UNKNOWN", "front: engine-oci-error mode")
            if self.command == "PUT" and self.headers.get("Content-Type") == OCI_INDEX:
                return self._fail(404, "MANIFEST_UNKNOWN", ENGINE_OCI_ERROR)
            if self.command == "PUT":
                front.engine_put.add(key)  # (before the PUT is answered; read after it)
        if m and by_tag and modes.msr and self._is_engine() and self.command in ("GET", "HEAD"):
            key = f"{m.group('name')}:{m.group('ref')}"
            if key in front.msr_acked:  # the engine is told the tag holds what it pushed
                ctype, acked = front.msr_acked[key]
                digest = "sha256:" + hashlib.sha256(acked).hexdigest()
                return self._send(
                    200,
                    [
                        ("Content-Type", ctype),
                        ("Docker-Content-Digest", digest),
                        ("Content-Length", str(len(acked))),
                    ],
                    acked,
                )
            if self.command == "HEAD":
                return self._fail(404, "MANIFEST_UNKNOWN", "front: msr mode")

        if m and self.command == "PUT":
            ctype = self.headers.get("Content-Type", "")
            doc: dict[str, Any] = {}
            with contextlib.suppress(ValueError):
                doc = json.loads(body or b"{}")
            if (modes.docker_v2_only and "vnd.oci." in ctype) or (
                modes.reject_indexes and ctype in INDEX_TYPES
            ):
                return self._fail(
                    400,
                    "MANIFEST_INVALID",
                    f"manifest invalid: media type {ctype} is not supported",
                )
            if modes.refuse_referrers and ("subject" in doc or "artifactType" in doc):
                return self._refuse_referrer(modes.refuse_referrers, doc)
            if (
                modes.no_attestations
                and ctype in INDEX_TYPES
                and any(
                    (e.get("platform") or {}).get("os") == "unknown"
                    for e in doc.get("manifests", [])
                )
            ):
                return self._fail(
                    400,
                    "MANIFEST_INVALID",
                    "manifest invalid: attestation manifests (unknown/unknown) are not accepted",
                )
            if (
                by_tag
                and ctype in INDEX_TYPES
                and ((modes.msr and self._is_engine()) or modes.truncate)
            ):
                # Store the first platform's manifest at the tag, but acknowledge the index
                # the engine sent, as the registry in buildx #3070 did: the push "succeeds".
                sent = "sha256:" + hashlib.sha256(body or b"").hexdigest()
                first = next(
                    e for e in doc["manifests"] if (e.get("platform") or {}).get("os") != "unknown"
                )
                ctype, stored = front.get_manifest(m.group("name"), first["digest"])
                headers = self._fwd_headers()
                headers["Content-Type"] = ctype
                headers["Content-Length"] = str(len(stored))
                status, rh, data = front.forward("PUT", self.path, headers, stored)
                rh = [(k, sent if k.lower() == "docker-content-digest" else v) for k, v in rh]
                if status < 300:
                    key = f"{m.group('name')}:{m.group('ref')}"
                    front.msr_acked[key] = (self.headers.get("Content-Type", ""), body or b"")
                    if modes.msr_error and self._is_engine():
                        # what the lab saw the engine's second push end with (bake exits 1)
                        return self._fail(
                            404,
                            "MANIFEST_UNKNOWN",
                            "manifest unknown: OCI index found, but accept header does not "
                            "support OCI indexes",
                        )
                return self._send(status, rh, data)

        headers = self._fwd_headers()
        if body is not None:
            headers["Content-Length"] = str(len(body))
        if m and modes.msr and self._is_engine() and self.command in ("GET", "HEAD"):
            headers["Accept"] = ACCEPT_ALL  # lenient about the engine's Accept header
        status, rh, data = front.forward(self.command, self.path, headers, body)
        if m and self.command == "PUT" and by_tag and status < 300:
            front.pushed_at[f"{m.group('name')}:{m.group('ref')}"] = time.monotonic()
        self._send(status, rh, data)

    def _refuse_referrer(self, like: str, doc: dict[str, Any]) -> None:
        if like == "aliyun":
            config = (doc.get("config") or {}).get("mediaType", "")
            return self._fail(403, "DENIED", f"unknown manifest class for {config}")
        subject = (doc.get("subject") or {}).get("digest", "")
        return self._fail(404, "BLOB_UNKNOWN", f"blob unknown to registry - {subject}")

    def _fwd_headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in self.headers.items():
            if k.lower() in HOP or k.lower() in ("content-length", "authorization"):
                continue
            out[k] = v
        return out

    def _bearer_ok(self) -> bool:
        auth = self.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.server.front.tokens

    def _token(self) -> None:
        front = self.server.front
        assert front.modes.bearer
        user, password = front.modes.bearer
        want = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if self.headers.get("Authorization") != want:
            return self._fail(401, "UNAUTHORIZED", "front: bad credentials for the token endpoint")
        token = secrets.token_hex(16)
        front.tokens.add(token)
        body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
        self._send(200, [("Content-Type", "application/json")], body)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _do
