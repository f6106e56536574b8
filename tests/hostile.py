"""A hostile fake registry: hosts on loopback ports (one server each) sharing one log of every
request they received, with its Authorization header, so that tests can assert that no
credential or token crosses hosts.

Each host, by default, is a registry with token auth: every /v2/ request needs a Bearer token
this host issued (else 401 with a challenge naming this host's /token realm), and its /token
endpoint issues tokens (named after the host: "A-...") to its own Basic credentials, or to
anyone when it has none; ``open``: no token needed. What it serves: `manifests` (reference ->
(media type, body)), any repository. What it does wrong, per host:

- ``redirect_to``: a manifest GET or HEAD by tag answers 307 to the same path on that host;
- ``realm``: the realm its challenges name, instead of its own /token (ftp://, a relative path);
- ``body``: how its manifest answers' bodies go wrong: "endless-chunked" (a chunked body that
  never ends), "endless" (a Content-Length of 300 MB, then bytes without end), "declared"
  (a Content-Length of 300 MB, and nothing sent);
- ``token_body``: the same for its token answers (after the credentials check);
- ``error_body``: its 404 answers have a chunked body that never ends;
- ``head_503_every``: every Nth HEAD is answered 503 with a body, which HTTP forbids (a second
  write, a moment after the head), as a front that writes its error page whatever the method.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/?]+)$")
CHUNK = b"x" * (64 << 10)


@dataclass(frozen=True)
class Seen:
    host: str  # the name of the host that received it: "A", "B"
    method: str
    path: str
    authorization: str | None


@dataclass
class Host:
    name: str
    log: list[Seen]
    user: tuple[str, str] | None = None  # its token endpoint's Basic credentials
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    open: bool = False
    redirect_to: Host | None = None
    realm: str | None = None
    body: str = ""
    token_body: str = ""
    error_body: bool = False
    head_503_every: int = 0
    issued: set[str] = field(default_factory=set)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def basic(self) -> str | None:
        if self.user is None:
            return None
        return "Basic " + base64.b64encode(":".join(self.user).encode()).decode()

    def start(self) -> Host:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.host = self
        self._server, self.port = server, server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def own(self, authorization: str) -> bool:
        """Is this header one this host may see: a token it issued, its own credentials?"""
        if authorization.startswith("Bearer "):
            return authorization[7:] in self.issued
        return authorization == self.basic()


def crossed(hosts: list[Host]) -> list[Seen]:
    """Every request that carried an Authorization its host never issued nor owns."""
    by_name = {h.name: h for h in hosts}
    log = hosts[0].log
    return [s for s in log if s.authorization and not by_name[s.host].own(s.authorization)]


@contextlib.contextmanager
def hosts(*names: str) -> Iterator[list[Host]]:
    log: list[Seen] = []
    started = [Host(n, log).start() for n in names]
    try:
        yield started
    finally:
        for h in started:
            h.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    host: Host


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _bad_body(self, how: str, ctype: str, status: int = 200) -> None:
        """An answer whose body goes wrong as `how` says, until the client hangs up."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if how == "endless-chunked":
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(300 << 20))
        self.end_headers()
        self.close_connection = True
        if how == "declared":
            return
        with contextlib.suppress(OSError):
            while True:
                if how == "endless-chunked":
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
                else:
                    self.wfile.write(CHUNK)

    def _challenge(self) -> None:
        host = self.server.host
        realm = host.realm if host.realm is not None else f"http://{host.addr}/token"
        m = re.match(r"^/v2/(.+)/(manifests|blobs)/", self.path)
        scope = f',scope="repository:{m.group(1)}:pull"' if m else ""
        challenge = f'Bearer realm="{realm}",service="{host.name}"{scope}'
        body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "token"}]}).encode()
        self._answer(401, body, {"WWW-Authenticate": challenge})

    def _token(self) -> None:
        host = self.server.host
        if host.user is not None and self.headers.get("Authorization") != host.basic():
            return self._answer(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
        if host.token_body:
            return self._bad_body(host.token_body, "application/json")
        token = f"{host.name}-{secrets.token_hex(8)}"
        with host.lock:
            host.issued.add(token)
        self._answer(200, json.dumps({"token": token}).encode())

    def _head_503(self) -> bool:
        """Every `head_503_every`-th HEAD: a 503 whose body follows its head a moment later,
        as a front that writes an error page whatever the method."""
        host = self.server.host
        if self.command != "HEAD" or not host.head_503_every:
            return False
        with host.lock:
            host.counter += 1
            n = host.counter
        if n % host.head_503_every:
            return False
        body = b'{"errors":[{"code":"UNAVAILABLE","message":"front: busy"}]}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        time.sleep(0.05)
        self.wfile.write(body)
        return True

    def _do(self) -> None:
        host = self.server.host
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        auth = self.headers.get("Authorization")
        with host.lock:
            host.log.append(Seen(host.name, self.command, self.path, auth))
        path = self.path.split("?", 1)[0]
        if path == "/token":
            return self._token()
        if not host.open and not (auth and auth.startswith("Bearer ") and auth[7:] in host.issued):
            return self._challenge()
        if self._head_503():
            return None
        m = MANIFEST.match(path)
        if m is None:
            return self._answer(200, b"{}", {"Content-Type": "application/json"})
        ref = m.group("ref")
        if host.redirect_to is not None and not ref.startswith("sha256:"):
            return self._answer(307, b"", {"Location": f"http://{host.redirect_to.addr}{path}"})
        if ref not in host.manifests:
            if host.error_body and self.command == "GET":
                return self._bad_body("endless-chunked", "application/json", 404)
            return self._answer(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        ctype, body = host.manifests[ref]
        if host.body and self.command == "GET":
            return self._bad_body(host.body, ctype)
        self._answer(200, body, {"Content-Type": ctype})

    do_GET = do_HEAD = do_POST = do_PUT = _do
