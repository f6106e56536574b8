"""The registry client's HTTP transport against real local HTTP servers (http.server)."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import pytest

from bakeguard.refs import Reference
from bakeguard.registry import Credentials, Registry, RegistryError, Unreachable
from bakeguard.registry.manifests import IMAGE_CONFIG_TYPES, Descriptor, digest_of
from bakeguard.registry.proxy import proxy_for
from bakeguard.registry.transport import Pool, Request, TransportError, follow
from tests.held import Held
from tests.proxy import ConnectProxy

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

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that stops reading (the cap under test) breaks the pipe of an endless
        # answer: that is the point, not a server fault worth a traceback in the test log.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


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


class Serve(Protocol):
    def __call__(self, handle: Handler, tls: ssl.SSLContext | None = None) -> _Server: ...


def reply(h: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k.replace("_", "-"), v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[_Server] = []

    def start(handle: Handler, tls: ssl.SSLContext | None = None) -> _Server:
        s = _Server(handle)
        if tls is not None:
            s.socket = tls.wrap_socket(s.socket, server_side=True)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def pool() -> Pool:
    return Pool(lambda host: ssl.create_default_context(), timeout=5)


def test_requests_share_one_kept_alive_connection(serve: Serve) -> None:
    s = serve(lambda h: reply(h, 200, b"hi"))
    p = pool()
    answers = [p(Request("GET", f"{s.base}/v2/")) for _ in range(5)]
    assert [a.content for a in answers] == [b"hi"] * 5
    assert s.connections == 1
    p.close()


def test_a_connection_the_server_closed_while_idle_is_replaced(
    serve: Serve,
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


def test_repeated_headers_are_joined_and_names_lowered(serve: Serve) -> None:
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
    serve: Serve,
) -> None:
    cdn = serve(lambda h: reply(h, 200, b'{"architecture": "arm64"}'))
    reg = serve(lambda h: reply(h, 307, Location=f"{cdn.base}/blob?sig=1"))
    r = follow(pool(), Request("GET", f"{reg.base}/v2/o/r/blobs/x", {"Authorization": "Bearer T"}))
    assert r.status_code == 200 and r.url == f"{cdn.base}/blob?sig=1"
    assert reg.seen[0][2].get("Authorization") == "Bearer T"
    assert "Authorization" not in cdn.seen[0][2]


def test_endless_redirects_stop(serve: Serve) -> None:
    s = serve(lambda h: reply(h, 302, Location="/again"))
    with pytest.raises(TransportError, match="redirects"):
        follow(pool(), Request("GET", f"{s.base}/v2/"))


def test_registry_reads_a_config_blob_its_registry_sends_to_a_cdn(
    serve: Serve,
) -> None:
    """Docker Hub and GHCR answer blob GETs with a redirect: a single-platform tag is
    verified through its config blob."""
    blob = json.dumps({"os": "linux", "architecture": "arm64"}).encode()
    cdn = serve(lambda h: reply(h, 200, blob))

    def registry(h: BaseHTTPRequestHandler) -> None:
        reply(h, 307, Location=f"{cdn.base}/signed")

    reg_server = serve(registry)
    host = reg_server.base.removeprefix("http://")
    reg = Registry(credentials=Credentials("/nonexistent"))
    config = Descriptor(IMAGE_CONFIG_TYPES[0], digest_of(blob), len(blob))
    platform = reg.config_platform(Reference.parse(f"{host}/o/r:v1"), config)
    assert platform.normalized == "linux/arm64"
    reg.close()


@pytest.mark.parametrize(
    ("scheme", "host", "env", "via"),
    [
        ("https", "reg.example", {"HTTPS_PROXY": "http://p:3128"}, "p:3128"),
        ("https", "reg.example", {"https_proxy": "p:3128"}, "p:3128"),  # no scheme: http
        ("http", "reg.example:5000", {"HTTPS_PROXY": "http://p:3128"}, None),  # http's own var
        ("http", "reg.example:5000", {"HTTP_PROXY": "http://p:80"}, "p:80"),
        ("https", "localhost:5443", {"HTTPS_PROXY": "http://p"}, None),  # loopback: never
        ("https", "127.0.0.1:5443", {"HTTPS_PROXY": "http://p"}, None),
        (
            "https",
            "reg.example",
            {"HTTPS_PROXY": "http://p", "NO_PROXY": "ample"},
            "p",
        ),  # not at a dot
        ("https", "reg.example", {"HTTPS_PROXY": "http://p", "NO_PROXY": "example.com,*"}, None),
        ("https", "a.reg.example", {"HTTPS_PROXY": "http://p", "NO_PROXY": "reg.example"}, None),
        ("https", "reg.example", {"HTTPS_PROXY": "http://p", "NO_PROXY": ".reg.example"}, "p"),
        ("https", "10.1.2.3:443", {"HTTPS_PROXY": "http://p", "no_proxy": "10.0.0.0/8"}, None),
        (
            "https",
            "reg.example:5000",
            {"HTTPS_PROXY": "http://p", "NO_PROXY": "reg.example:443"},
            "p",
        ),
    ],
)
def test_proxy_choice_follows_go(
    scheme: str, host: str, env: dict[str, str], via: str | None
) -> None:
    got = proxy_for(scheme, host, env)
    assert (got.netloc if got else None) == via


def test_plain_http_through_a_proxy_names_the_whole_url(
    serve: Serve,
) -> None:
    proxy = serve(lambda h: reply(h, 200, b"from the proxy"))
    env = {"HTTP_PROXY": f"http://ci:s%40cret@127.0.0.1:{proxy.server_address[1]}"}
    r = Pool(lambda host: ssl.create_default_context(), 5, env)(
        Request("GET", "http://reg.example:5000/v2/")
    )
    assert r.content == b"from the proxy"
    _method, path, headers = proxy.seen[0]
    assert path == "http://reg.example:5000/v2/" and headers["Host"] == "reg.example:5000"
    assert headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"ci:s@cret").decode()


def test_https_goes_through_a_connect_tunnel(serve: Serve) -> None:
    """CONNECT to the proxy, then TLS with the registry's own name and certificate."""
    import trustme

    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("registry.test").configure_cert(server_ctx)
    registry = serve(lambda h: reply(h, 200, b"registry over TLS"), server_ctx)
    proxy = ConnectProxy({"registry.test:5443": ("127.0.0.1", registry.server_address[1])})
    try:
        client_ctx = ssl.create_default_context()
        ca.configure_trust(client_ctx)
        env = {"HTTPS_PROXY": proxy.url.removeprefix("http://")}  # no scheme: Go reads http
        pool = Pool(lambda host: client_ctx, 5, env)
        r = pool(Request("GET", "https://registry.test:5443/v2/"))
        assert r.content == b"registry over TLS"
        assert proxy.tunnels == ["registry.test:5443"]
        pool.close()
    finally:
        proxy.stop()


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_a_proxy_without_a_port_is_reached_on_80(scheme: str) -> None:
    """As Go does for an http:// proxy URL without a port (not 443 for an https request)."""
    env = {"HTTPS_PROXY": "http://u:p@proxy.example", "HTTP_PROXY": "proxy.example"}
    conn, reused = Pool(lambda host: ssl.create_default_context(), 5, env)._take(
        scheme, "reg.example:5000"
    )
    assert (conn.host, conn.port, reused) == ("proxy.example", 80, False)


# ---------------------------------------------------------------- deadlines


@pytest.fixture
def held() -> Iterator[Callable[..., Held]]:
    made: list[Held] = []

    def make(drip: bytes = b"", every: float = 0.0) -> Held:
        made.append(Held(drip, every))
        return made[-1]

    yield make
    for h in made:
        h.close()


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("scheme", "kind"), [("http", "timeout"), ("https", "timeout-tls")])
def test_a_server_that_never_answers_ends_the_request_at_its_deadline(
    held: Callable[..., Held], scheme: str, kind: str
) -> None:
    h = held()
    t0 = time.monotonic()
    with pytest.raises(TransportError) as e:
        pool()(Request("GET", f"{scheme}://127.0.0.1:{h.port}/v2/", deadline=t0 + 0.5))
    assert e.value.kind == kind and e.value.timed_out
    assert time.monotonic() - t0 < 1.5


@pytest.mark.timeout(20)
def test_a_server_that_drips_its_answer_cannot_stretch_the_deadline(
    held: Callable[..., Held],
) -> None:
    """Each byte comes well within a socket timeout, the whole answer long after the
    deadline: the request ends at the deadline, not when the last byte comes."""
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    h = held(drip=answer, every=0.1)  # ~4 s in all
    t0 = time.monotonic()
    with pytest.raises(TransportError) as e:
        pool()(Request("GET", f"http://127.0.0.1:{h.port}/v2/", deadline=t0 + 1))
    assert e.value.kind == "timeout"
    assert time.monotonic() - t0 < 2


def test_a_refused_connection_says_so() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening
    try:
        with pytest.raises(TransportError) as e:
            pool()(Request("GET", f"http://127.0.0.1:{closed.getsockname()[1]}/v2/"))
    finally:
        closed.close()
    assert e.value.kind == "refused" and not e.value.timed_out


# ---------------------------------------------------------------- framing


def _head_then_body(h: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    """An answer whose body follows its head a moment later (a second write)."""
    h.send_response(status)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    time.sleep(0.05)
    h.wfile.write(body)


def test_an_error_answer_to_a_head_with_a_body_does_not_desync_the_next_request(
    serve: Serve,
) -> None:
    """A front that writes its error page whatever the method: the body HTTP forbids after a
    HEAD must not be read as the next answer (the issue's "BadStatusLine")."""

    def front(h: BaseHTTPRequestHandler) -> None:
        if h.command == "HEAD":
            _head_then_body(h, 503, b'{"errors":[{"code":"UNAVAILABLE"}]}')
        else:
            reply(h, 200, b"ok")

    s = serve(front)
    p = pool()
    assert p(Request("HEAD", f"{s.base}/v2/o/r/manifests/v1")).status_code == 503
    time.sleep(0.1)  # the body has come meanwhile
    r = p(Request("GET", f"{s.base}/v2/o/r/manifests/v1"))
    assert (r.status_code, r.content) == (200, b"ok")


def test_bytes_that_come_after_an_answer_end_keep_its_connection_from_use(serve: Serve) -> None:
    """A body longer than its Content-Length, the rest a moment later: the idle connection
    has bytes nobody asked for, and a new one is used."""

    def long_body(h: BaseHTTPRequestHandler) -> None:
        reply(h, 200, b"ok")
        if h.path == "/first":
            time.sleep(0.05)
            h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged")

    s = serve(long_body)
    p = pool()
    assert p(Request("GET", f"{s.base}/first")).content == b"ok"
    time.sleep(0.1)
    assert p(Request("GET", f"{s.base}/second")).content == b"ok"
    assert s.connections == 2


def test_a_reused_connection_out_of_step_is_replaced_and_the_request_sent_again(
    serve: Serve,
) -> None:
    answered: dict[int, int] = {}

    def garbles_second(h: BaseHTTPRequestHandler) -> None:
        n = answered[id(h)] = answered.get(id(h), 0) + 1
        if n == 2:  # its second answer on this connection is not HTTP
            h.wfile.write(b"\x00garbage\r\n\r\n")
            h.close_connection = True
            return
        reply(h, 200, b"ok")

    s = serve(garbles_second)
    p = pool()
    assert p(Request("GET", f"{s.base}/a")).content == b"ok"
    assert p(Request("GET", f"{s.base}/b")).content == b"ok"
    assert s.connections == 2


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"mediaType', "broke off its answer"),
        (b"SSH-2.0-OpenSSH_9.6\r\n", "with something that is not HTTP"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "broke off its answer"),
    ],
    ids=["short", "not-http", "bad-chunk"],
)
def test_an_answer_that_came_but_breaks_says_what_the_registry_did(
    serve: Serve, answer: bytes, said: str
) -> None:
    """Not "closed the connection unanswered" nor "could not reach": it answered, badly."""
    from bakeguard.registry.verdict import reach_hint
    from bakeguard.registry.verify import Expectation, Verifier

    def broken(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(answer)
        h.close_connection = True

    s = serve(broken)
    host = s.base.removeprefix("http://")
    reg = Registry(credentials=Credentials("/nonexistent"), budget=0)
    [out] = Verifier(reg).run([Expectation("app", f"{host}/o/r:v1", ("linux/amd64",))])
    assert not out.ok and out.error is not None and said in out.error
    assert not out.unreachable and reach_hint([out]) is None
    reg.close()


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://127.0.0.1:21/x", "//user:pw@127.0.0.1:9/x"]
)
def test_a_redirect_anywhere_but_http_is_not_followed(serve: Serve, location: str) -> None:
    s = serve(lambda h: reply(h, 307, Location=location))
    with pytest.raises(TransportError) as e:
        follow(pool(), Request("GET", f"{s.base}/v2/o/r/manifests/v1"))
    assert e.value.kind == "bad-url" and repr(location) in str(e.value)
    assert len(s.seen) == 1


@pytest.mark.timeout(20)
def test_a_body_that_does_not_end_by_the_deadline_says_so(serve: Serve) -> None:
    """Not "did not answer": the registry answered, and its body kept coming too slowly."""

    def drip(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        for _ in range(100):
            h.wfile.write(b"{")
            time.sleep(0.1)

    s = serve(drip)
    host = s.base.removeprefix("http://")
    reg = Registry(credentials=Credentials("/nonexistent"), budget=1)
    t0 = time.monotonic()
    with pytest.raises(RegistryError) as e:
        reg.manifest(Reference.parse(f"{host}/o/r:v1"))
    assert time.monotonic() - t0 < 3
    assert "began to answer GET /v2/o/r/manifests/v1" in str(e.value)
    assert "its answer had not ended within 1 s" in str(e.value)
    assert not isinstance(e.value, Unreachable)
