"""The registry client: manifests and blobs read, an index written under a tag; every
request within one deadline, retried as the package docstring says."""

from __future__ import annotations

import contextlib
import hashlib
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakeguard.refs import Reference, problem
from bakeguard.registry.auth import Credentials, TokenAuth
from bakeguard.registry.errors import (
    ACCEPT,
    AccessDenied,
    Manifest,
    NotYet,
    RegistryError,
    Unreachable,
    access_denied,
    json_object,
    unreachable_error,
)
from bakeguard.registry.hosts import Host, is_insecure
from bakeguard.registry.proxy import is_loopback
from bakeguard.registry.transport import (
    Pool,
    Response,
    Send,
    TransportError,
)
from bakeguard.retry import first_then_retrying

# No answer at all (a refused connection, a name that does not resolve, a connection closed
# unanswered): right after a push that worked, that is almost never a passing state of the
# registry but this machine's view of it (another network, a proxy, a name only the engine
# resolves), and waiting out the budget would only delay saying so. Two quick retries, under
# a second in all, still cover what is passing: a registry or its load balancer restarting,
# a resolver's momentary failure.
UNREACHABLE_TRIES = 3
UNREACHABLE_PAUSE = 0.25  # seconds before the 2nd try; twice that before the 3rd


@dataclass
class Registry:
    credentials: Credentials = field(default_factory=Credentials)
    insecure: tuple[str, ...] = ()
    certs_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("BAKEGUARD_CERTS_DIR", "/etc/docker/certs.d"))
    )
    # total seconds all requests together may wait, from `start` (or the first request):
    # connecting, handshakes, reads and the pauses between retries; 0: one try per request,
    # each within `timeout`, no retries
    budget: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic  # the transport's deadlines are on it
    timeout: float = 30.0  # a request's bound where the budget sets none (see _deadline)
    transport: Send | None = None  # tests inject a function; else kept-alive connections
    _started: float | None = None  # on clock: when the budget started
    _hosts: dict[str, Host] = field(default_factory=dict)
    _pool: Pool | None = None
    _contexts: dict[str, ssl.SSLContext] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -------------------------------------------------------------- connections

    def _context(self, host: str) -> ssl.SSLContext:
        """TLS for host: the system CAs plus certs.d's (and its client certificate); no
        verification for an insecure registry without a CA of its own."""
        with self._lock:
            if host in self._contexts:
                return self._contexts[host]
        ca_dirs = (self.certs_dir / host, self.certs_dir / host.replace("127.0.0.1", "localhost"))
        if is_insecure(host, self.insecure) and not (self.certs_dir / host).is_dir():
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context()
            for d in ca_dirs:
                for ca in sorted(d.glob("*.crt")) if d.is_dir() else []:
                    ctx.load_verify_locations(cafile=str(ca))
                cert, key = d / "client.cert", d / "client.key"
                if cert.exists() and key.exists():
                    ctx.load_cert_chain(str(cert), str(key))
        with self._lock:
            return self._contexts.setdefault(host, ctx)

    def _send(self) -> Send:
        if self.transport is not None:
            return self.transport
        with self._lock:
            if self._pool is None:
                self._pool = Pool(self._context, self.timeout, clock=self.clock)
            return self._pool

    def _new_host(self, host: str, scheme: str) -> Host:
        send = self._send()
        return Host(f"{scheme}://{host}", TokenAuth(self.credentials.lookup(host), send), send)

    def _host(self, host: str, deadline: float) -> Host:
        with self._lock:
            if host in self._hosts:
                return self._hosts[host]
        if is_loopback(host):
            # plain HTTP first on loopback; a TLS port answers "Client sent an HTTP request to an
            # HTTPS server" and _call switches (no credentials go out before a 401 challenge)
            h = self._new_host(host, "http")
        else:
            h = self._new_host(host, "https")
            if is_insecure(host, self.insecure):
                try:  # docker's order for insecure registries: HTTPS first, then plain HTTP
                    h.request("GET", "/v2/", {}, deadline=deadline)
                except TransportError as e:
                    if e.timed_out:
                        raise
                    h = self._new_host(host, "http")
        with self._lock:
            return self._hosts.setdefault(host, h)  # another thread may have won

    def _switch_to_https(self, host: str, old: Host) -> Host:
        h = self._new_host(host, "https")
        with self._lock:
            current = self._hosts.get(host, old)
            if current is not old:  # another thread switched already
                return current
            self._hosts[host] = h
            return h

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            self._hosts.clear()
        if pool is not None:
            pool.close()

    # -------------------------------------------------------------- the budget

    def start(self) -> None:
        """The budget starts now (verification calls this as it begins; the client's earlier
        work, such as a split's writes, had its own)."""
        with self._lock:
            self._started = self.clock()

    def _deadline(self) -> float:
        """When a request starting now must be done: the budget's end (the budget starts
        with the first request when `start` was not called); with no budget, `timeout`."""
        if self.budget <= 0:
            return self.clock() + self.timeout
        with self._lock:
            if self._started is None:
                self._started = self.clock()
            return self._started + self.budget

    def _within(self) -> str:
        """The bound a timed-out request had, for messages."""
        if self.budget > 0:
            return f"{self.budget:g} s (--guard-verify-timeout)"
        return f"{self.timeout:g} s"

    # -------------------------------------------------------------- requests

    def _retrying(self, transient: Callable[[BaseException], bool]) -> Any:
        """The shared retry rules (made only once a request has failed: bakeguard.retry)."""
        from tenacity import RetryCallState, Retrying, retry_if_exception
        from tenacity.wait import wait_exponential_jitter

        backoff = wait_exponential_jitter(multiplier=0.2, max=5)
        # a retry needs time to run: pauses end this much before the deadline, or the last
        # try would have none and the run end on a timeout rather than the registry's answer
        reserve = min(1.0, self.budget / 10)
        decided: dict[int, float | None] = {}  # attempt number: the pause, None to stop

        def decide(rs: RetryCallState) -> float | None:
            """After a failed attempt: the pause before the next, or None to stop. (tenacity
            asks `stop` and `wait` in an order that changed between its versions.)"""
            if rs.attempt_number in decided:
                return decided[rs.attempt_number]
            exc = rs.outcome.exception() if rs.outcome else None
            pause: float | None = None
            if self.budget > 0 and isinstance(exc, RegistryError):
                if isinstance(exc, Unreachable):
                    if not exc.timed_out and rs.attempt_number < UNREACHABLE_TRIES:
                        pause = UNREACHABLE_PAUSE * rs.attempt_number
                elif exc.retry_after is not None:
                    pause = exc.retry_after
                else:
                    pause = backoff(rs)
                left = self._deadline() - self.clock() - reserve
                pause = None if pause is None or left <= 0 else min(pause, left)
            decided[rs.attempt_number] = pause
            return pause

        return Retrying(
            retry=retry_if_exception(transient),
            stop=lambda rs: decide(rs) is None,
            wait=lambda rs: decide(rs) or 0.0,
            sleep=self.sleep,
            reraise=True,
        )

    def _request(
        self,
        method: str,
        ref: Reference,
        path: str,
        lag_ok: bool = False,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        retryunreachable_error: bool = True,
    ) -> Response:
        def transient(e: BaseException) -> bool:
            return _transient(e) and (retryunreachable_error or not isinstance(e, Unreachable))

        return first_then_retrying(
            lambda: self._once(method, ref, path, lag_ok, headers or {"Accept": ACCEPT}, body),
            transient,
            lambda: self._retrying(transient),
        )

    def _once(
        self,
        method: str,
        ref: Reference,
        path: str,
        lag_ok: bool,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> Response:
        url = f"/v2/{ref.repository}/{path}"
        deadline = self._deadline()
        if deadline <= self.clock():  # earlier requests spent it: this one never started
            raise RegistryError(
                f"{ref.registry}: no time left for {method} {url} (the budget of "
                f"{self._within()} was spent on the requests before it)"
            )
        r = self._call(ref, method, url, headers, body, deadline)
        if r.status_code < 300:
            return r
        if r.status_code == 429 or r.status_code >= 500:
            err = RegistryError(
                f"{ref.registry} answered {r.status_code} for {method} {url}",
                r.status_code,
                transient=True,
            )
            ra = r.header("Retry-After")
            if ra.strip().isdigit():
                err.retry_after = float(ra)
            raise err
        if r.status_code == 404 and lag_ok:
            raise NotYet(f"{ref} not found (yet)", 404, transient=True)
        if r.status_code in (401, 403):
            raise self._denied(ref, method, r)
        raise RegistryError(f"{method} {ref}: {r.status_code}{_error_text(r)}", r.status_code)

    def _denied(self, ref: Reference, method: str, r: Response) -> AccessDenied:
        """A 401 or 403 for ref, said the way a user fixes it (`access_denied`)."""
        with self._lock:
            known = self._hosts.get(ref.api_host)
        secret = known.auth.secret if known else None
        status = f"{r.status_code}{_error_text(r)}"
        user = secret.username if secret else None
        return access_denied(ref, method, r.status_code, status, user, str(self.credentials.path))

    def _call(
        self,
        ref: Reference,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        deadline: float,
    ) -> Response:
        """One request; a loopback registry that answers plain HTTP with "Client sent an HTTP
        request to an HTTPS server" (a HEAD gets the 400 without that body) is asked again over
        HTTPS, and stays HTTPS for this run."""
        try:
            host = self._host(ref.api_host, deadline)
            r = host.request(method, url, headers, body, deadline)
            if (
                r.status_code == 400
                and host.scheme == "http"
                and (method == "HEAD" or b"HTTPS server" in r.content)
            ):
                host = self._switch_to_https(ref.api_host, host)
                r = host.request(method, url, headers, body, deadline)
        except TransportError as e:
            raise unreachable_error(ref.registry, e, self._within()) from e
        return r

    def ping(self, ref: Reference) -> tuple[int, str]:
        """GET /v2/ of ref's registry (200, or 401 before credentials): (status, url). One
        try, within the budget (or `timeout`, the lesser), which it does not start."""
        bound = min(self.budget, self.timeout) if self.budget > 0 else self.timeout
        r = self._call(ref, "GET", "/v2/", {}, None, self.clock() + bound)
        return r.status_code, r.url

    def connect(self, refs: Iterable[str]) -> None:
        """Start opening a connection to each registry of these references, ahead of the
        requests that need it (errors are left to those requests). Nothing waits for it:
        a registry that never answers must not hold up the caller (the run's exit after a
        Ctrl-C included); the warm-up ends within its own bound. (Not for a non-name.)"""
        hosts = list({Reference.parse(r).registry: r for r in refs if not problem(r)}.values())

        def warm() -> None:
            for ref in hosts:
                with contextlib.suppress(RegistryError):
                    self.ping(Reference.parse(ref))

        if hosts:
            threading.Thread(target=warm, daemon=True).start()

    def manifest(self, ref: Reference, lag_ok: bool = False) -> Manifest:
        r = self._request("GET", ref, f"manifests/{ref.ref}", lag_ok=lag_ok and not ref.digest)
        body = r.content
        digest = r.header("Docker-Content-Digest") or ("sha256:" + hashlib.sha256(body).hexdigest())
        ctype = r.header("Content-Type").split(";")[0].strip()
        doc = json_object(ref, body, "manifest")
        return Manifest(ctype or str(doc.get("mediaType", "")), digest, doc, len(body))

    def has_manifest(self, ref: Reference, digest: str) -> bool:
        try:
            self._request("HEAD", ref, f"manifests/{digest}")
        except RegistryError as e:
            if e.status == 404:
                return False
            raise
        return True

    def put_manifest(self, ref: Reference, body: bytes, media_type: str) -> str:
        """Write a manifest (an index) under ref's tag as containerd's pusher does for `imagetools
        create` and bake: a HEAD of the tag first, and no PUT when the tag already names these
        bytes. Returns the digest. A PUT is idempotent, so it is retried like a read; but a
        registry this client cannot reach at all raises Unreachable at once (the caller has
        `imagetools create` write instead, which may reach it another way)."""
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        path = f"manifests/{ref.ref}"
        try:
            accept = {"Accept": f"{media_type}, */*"}
            r = self._request("HEAD", ref, path, headers=accept, retryunreachable_error=False)
            if r.header("Docker-Content-Digest") == digest:
                return digest
        except RegistryError as e:
            if e.status != 404:
                raise
        ctype = {"Content-Type": media_type}
        r = self._request("PUT", ref, path, headers=ctype, body=body, retryunreachable_error=False)
        stored = r.header("Docker-Content-Digest")
        if stored and stored != digest:
            raise RegistryError(f"{ref.registry} stored {ref} as {stored}, not as {digest}")
        return digest

    def blob_json(self, ref: Reference, digest: str) -> Mapping[str, Any]:
        r = self._request("GET", ref, f"blobs/{digest}")
        return json_object(ref, r.content, f"blob {digest}")


def _transient(e: BaseException) -> bool:
    return isinstance(e, RegistryError) and e.transient


def _error_text(r: Response) -> str:
    try:
        errors = r.json().get("errors") or []
        if errors:
            e = errors[0]
            return f": {e.get('code', '')} {e.get('message', '')}".rstrip()
    except (ValueError, AttributeError):
        pass
    return ""
