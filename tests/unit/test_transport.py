"""The registry client's HTTP transport against real local HTTP servers (http.server)."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bakeguard.refs import Reference
from bakeguard.registry import Credentials, Registry
from bakeguard.transport import Pool, Request, TransportError, follow

Handler = Callable[[BaseHTTPRequestHandler], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handle: Handler) -> None:
        self.handle_fn = handle
        self.connections = 0
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        super().__init__(("127.0.0.1", 0), _H)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def _any(self) -> None:
        self.server.seen.append((self.command, self.path, dict(self.headers)))
        self.server.handle_fn(self)

    do_GET = do_HEAD = do_POST = _any


def reply(h: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k.replace("_", "-"), v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], _Server]]:
    servers: list[_Server] = []

    def start(handle: Handler) -> _Server:
        s = _Server(handle)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def pool() -> Pool:
    return Pool(lambda host: ssl.create_default_context(), timeout=5)


def test_requests_share_one_kept_alive_connection(serve: Callable[[Handler], _Server]) -> None:
    s = serve(lambda h: reply(h, 200, b"hi"))
    p = pool()
    answers = [p(Request("GET", f"{s.base}/v2/")) for _ in range(5)]
    assert [a.content for a in answers] == [b"hi"] * 5
    assert s.connections == 1
    p.close()


def test_a_connection_the_server_closed_while_idle_is_replaced(
    serve: Callable[[Handler], _Server],
) -> None:
    def once(h: BaseHTTPRequestHandler) -> None:
        reply(h, 200, b"ok")
        h.close_connection = True  # without saying so (no Connection: close)

    s = serve(once)
    p = pool()
    assert p(Request("GET", f"{s.base}/a")).content == b"ok"
    assert p(Request("GET", f"{s.base}/b")).content == b"ok"
    assert s.connections == 2


def test_no_answer_is_a_transport_error() -> None:
    with pytest.raises(TransportError, match="ConnectionRefused"):
        pool()(Request("GET", "http://127.0.0.1:9/v2/"))


def test_repeated_headers_are_joined_and_names_lowered(serve: Callable[[Handler], _Server]) -> None:
    def two(h: BaseHTTPRequestHandler) -> None:
        h.send_response(401)
        h.send_header("WWW-Authenticate", 'Bearer realm="a"')
        h.send_header("WWW-Authenticate", 'Basic realm="b"')
        h.send_header("Content-Length", "0")
        h.end_headers()

    s = serve(two)
    r = pool()(Request("GET", f"{s.base}/v2/"))
    assert r.header("www-authenticate") == 'Bearer realm="a", Basic realm="b"'


def test_redirect_to_another_host_drops_the_credentials(
    serve: Callable[[Handler], _Server],
) -> None:
    cdn = serve(lambda h: reply(h, 200, b'{"architecture": "arm64"}'))
    reg = serve(lambda h: reply(h, 307, Location=f"{cdn.base}/blob?sig=1"))
    r = follow(pool(), Request("GET", f"{reg.base}/v2/o/r/blobs/x", {"Authorization": "Bearer T"}))
    assert r.status_code == 200 and r.url == f"{cdn.base}/blob?sig=1"
    assert reg.seen[0][2].get("Authorization") == "Bearer T"
    assert "Authorization" not in cdn.seen[0][2]


def test_endless_redirects_stop(serve: Callable[[Handler], _Server]) -> None:
    s = serve(lambda h: reply(h, 302, Location="/again"))
    with pytest.raises(TransportError, match="redirects"):
        follow(pool(), Request("GET", f"{s.base}/v2/"))


def test_registry_reads_a_config_blob_its_registry_sends_to_a_cdn(
    serve: Callable[[Handler], _Server],
) -> None:
    """Docker Hub and GHCR answer blob GETs with a redirect: a single-platform tag is
    verified through its config blob."""
    cdn = serve(lambda h: reply(h, 200, json.dumps({"os": "linux"}).encode()))

    def registry(h: BaseHTTPRequestHandler) -> None:
        reply(h, 307, Location=f"{cdn.base}/signed")

    reg_server = serve(registry)
    host = reg_server.base.removeprefix("http://")
    reg = Registry(credentials=Credentials("/nonexistent"))
    assert reg.blob_json(Reference.parse(f"{host}/o/r:v1"), "sha256:c") == {"os": "linux"}
    reg.close()
