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
from urllib.parse import urlsplit

from bakeguard.refs import Reference, problem
from bakeguard.registry.auth import Keyring
from bakeguard.registry.credentials import Credentials
from bakeguard.registry.errors import (
    ACCEPT,
    AccessDenied,
    NotYet,
    RegistryError,
    Unreachable,
    access_denied,
    transport_error,
)
from bakeguard.registry.hosts import Host, is_insecure, tls_context
from bakeguard.registry.manifests import Descriptor, Manifest, Platform
from bakeguard.registry.proxy import is_loopback
from bakeguard.registry.trace import traced
from bakeguard.registry.transport import (
    CONFIG_CAP,
    MANIFEST_CAP,
    Pool,
    Response,
    Send,
    TransportError,
)
from bakeguard.registry.wire import config_platform, error_text, read_manifest
from bakeguard.retry import first_then_retrying


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
    _keyring: Keyring | None = None  # credentials and tokens, per origin (auth.Keyring)
    _contexts: dict[str, ssl.SSLContext] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -------------------------------------------------------------- connections

    def _context(self, host: str) -> ssl.SSLContext:
        with self._lock:
            if host in self._contexts:
                return self._contexts[host]
        ctx = tls_context(host, self.certs_dir, self.insecure)
        with self._lock:
            return self._contexts.setdefault(host, ctx)

    def _send(self) -> Send:
        if self.transport is not None:
            return traced(self.transport)  # (traced: each request said, --guard-verbose)
        with self._lock:
            if self._pool is None:
                self._pool = Pool(self._context, self.timeout, clock=self.clock)
            return traced(self._pool)

    def _keys(self) -> Keyring:
        send = self._send()
        with self._lock:
            if self._keyring is None:
                self._keyring = Keyring(self.credentials, send)
            return self._keyring

    def _new_host(self, host: str, scheme: str) -> Host:
        keys = self._keys()
        keys.secret(host)  # looked up now: an unreadable entry is warned of whether used or not
        return Host(f"{scheme}://{host}", keys, self._send())

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
            self._keyring = None
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
        from bakeguard.registry.pacing import retrying

        return retrying(self.budget, lambda: self._deadline() - self.clock(), self.sleep, transient)

    def _request(
        self,
        method: str,
        ref: Reference,
        path: str,
        lag_ok: bool = False,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        retry_unreachable: bool = True,
    ) -> Response:
        def transient(e: BaseException) -> bool:
            return _transient(e) and (retry_unreachable or not isinstance(e, Unreachable))

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
        # what is read of an answer: a manifest's or config's cap (transport's CAPS)
        limit = CONFIG_CAP if path.startswith("blobs/") else MANIFEST_CAP
        r = self._call(ref, method, url, headers, body, deadline, limit)
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
        """A 401 or 403 for ref, said the way a user fixes it (`access_denied`), naming the
        host that refused: the registry, or the one it redirected the request to."""
        host = urlsplit(r.url).netloc or ref.api_host
        secret = self._keys().secret(host)
        status = f"{r.status_code}{_error_text(r)}"
        user = secret.username if secret else None
        config = str(self.credentials.path)
        other = host if host.lower() != ref.api_host.lower() else None
        return access_denied(ref, method, r.status_code, status, user, config, other)

    def _call(
        self,
        ref: Reference,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        deadline: float,
        limit: int = MANIFEST_CAP,
    ) -> Response:
        """One request; a loopback registry that answers plain HTTP with "Client sent an HTTP
        request to an HTTPS server" (a HEAD gets the 400 without that body) is asked again over
        HTTPS, and stays HTTPS for this run."""
        try:
            host = self._host(ref.api_host, deadline)
            r = host.request(method, url, headers, body, deadline, limit)
            if (
                r.status_code == 400
                and host.scheme == "http"
                and (method == "HEAD" or b"HTTPS server" in r.content)
            ):
                host = self._switch_to_https(ref.api_host, host)
                r = host.request(method, url, headers, body, deadline, limit)
        except TransportError as e:
            raise transport_error(ref, f"{method} {url}", e, self._within()) from e
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
        """The manifest or index ref names, its body checked and read (registry.wire)."""
        r = self._request("GET", ref, f"manifests/{ref.ref}", lag_ok=lag_ok and not ref.digest)
        return read_manifest(
            ref, r.content, r.header("Content-Type"), r.header("Docker-Content-Digest")
        )

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
            r = self._request("HEAD", ref, path, headers=accept, retry_unreachable=False)
            if r.header("Docker-Content-Digest") == digest:
                return digest
        except RegistryError as e:
            if e.status != 404:
                raise
        ctype = {"Content-Type": media_type}
        r = self._request("PUT", ref, path, headers=ctype, body=body, retry_unreachable=False)
        stored = r.header("Docker-Content-Digest")
        if stored and stored != digest:
            raise RegistryError(f"{ref.registry} stored {ref} as {stored}, not as {digest}")
        return digest

    def config_platform(self, ref: Reference, config: Descriptor) -> Platform:
        """The platform of the image config blob `config` (of ref's manifest) names."""
        r = self._request("GET", ref, f"blobs/{config.digest}")
        return config_platform(ref, config, r.content)


def _transient(e: BaseException) -> bool:
    return isinstance(e, RegistryError) and e.transient


def _error_text(r: Response) -> str:
    return error_text(r.content)
