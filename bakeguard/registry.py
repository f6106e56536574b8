"""The registry protocol: reading manifests and blobs over the OCI distribution API, and
writing an index under a tag, the way docker does it.

- Every manifest request accepts OCI index/manifest and Docker list/manifest types
  (distribution answers "OCI index found, but accept header does not support OCI indexes"
  to a client that omits the OCI index type).
- Credentials from config.json (`auths`, `credsStore`, `credHelpers`), basic auth and the
  bearer token flow (realm/service/scope), answered on the registry's 401; never logged. An
  `auth` entry docker could not read either is no credentials, with a warning. A 401 says
  whether there were no credentials or they were refused, a 403 that the account lacks the
  rights; each with its fix (AccessDenied).
- HTTP/1.1 from bakeguard.transport (the standard library's http.client, kept-alive
  connections); redirects followed, credentials kept to the registry's own host.
- TLS with the system CAs plus `<certs dir>/HOST/ca.crt` (default /etc/docker/certs.d,
  BAKEGUARD_CERTS_DIR for tests); plain HTTP for loopback registries and those the engine
  lists as insecure, after HTTPS failed, as docker does.
- One deadline, `budget` seconds from the start (`start`, or the first request), bounds
  every wait of every request: connecting, the TLS handshake, each read (the transport's
  sockets keep to it) and the pauses between retries. Retries (tenacity): 429 honouring
  Retry-After, 5xx and, for tags just pushed, 404, while the deadline allows; no answer at
  all (Unreachable) twice more at most, quickly. No retry on 401/403/4xx. tenacity is
  imported only once a request has failed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import ipaddress
import json
import os
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bakeguard.refs import DOCKER_HUB, Reference
from bakeguard.retry import first_then_retrying
from bakeguard.transport import (
    Pool,
    Request,
    Response,
    Send,
    TransportError,
    follow,
    is_loopback,
)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
HUB_AUTH_KEY = "https://index.docker.io/v1/"


class RegistryError(Exception):
    def __init__(self, message: str, status: int | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient
        self.retry_after: float | None = None


class Unreachable(RegistryError):
    """No HTTP answer at all: a name that does not resolve, a refused or dropped connection,
    a failed TLS handshake (often a proxy or a CA this machine lacks, not the registry), or
    none within the deadline. `kind` is the transport's (TransportError.kind)."""

    def __init__(
        self, message: str, status: int | None = None, transient: bool = True, kind: str = "other"
    ) -> None:
        super().__init__(message, status, transient)
        self.kind = kind

    @property
    def timed_out(self) -> bool:
        return self.kind.startswith("timeout")


class AccessDenied(RegistryError):
    """401 or 403. `problem`: "no-credentials" (a 401, and none for the host in config.json
    or its credential helper), "refused" (a 401 although credentials were sent: wrong or
    expired), "forbidden" (403: the account lacks the rights). `fix` says what to run."""

    def __init__(self, message: str, status: int, problem: str, fix: str) -> None:
        super().__init__(message, status)
        self.problem, self.fix = problem, fix


class NotYet(RegistryError):
    """404 for a tag just pushed: retried within the wait budget (lagging registries)."""


@dataclass(frozen=True)
class Manifest:
    media_type: str
    digest: str
    doc: Mapping[str, Any]
    size: int

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES or "manifests" in self.doc


# ------------------------------------------------------------------ credentials


@dataclass(frozen=True)
class Secret:
    username: str
    password: str  # or an identity token when username is "<token>"

    def __repr__(self) -> str:  # never print a credential
        return f"Secret(username={self.username!r}, password=***)"


def _warn(text: str) -> None:
    from bakeguard import log

    log.get().warning(text)


class Credentials:
    """Reads docker's config.json the way the CLI does; helpers run through bakeguard.docker.
    What cannot be read (an `auth` that is not base64 of user:password) counts as no
    credentials, and `warn` says so once per host."""

    def __init__(
        self,
        config_dir: str | None = None,
        helper: Callable[[str, str], Mapping[str, str] | None] | None = None,
        warn: Callable[[str], None] = _warn,
    ) -> None:
        self.dir = Path(config_dir or os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
        self._helper = helper
        self._warn = warn
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        try:
            config = json.loads(self.path.read_text())
        except (OSError, ValueError):
            config = {}
        self.config: Mapping[str, Any] = config if isinstance(config, dict) else {}

    @property
    def path(self) -> Path:
        return self.dir / "config.json"

    def _unreadable(self, host: str, key: str, why: str) -> None:
        with self._lock:
            if host in self._warned:
                return
            self._warned.add(host)
        self._warn(
            f"the credentials for {host} in {self.path} (auths[{key!r}]) are unreadable "
            f"({why}): going on without credentials for {host}; fix: docker login {host}"
        )

    def _keys(self, host: str) -> list[str]:
        if host == DOCKER_HUB:
            return [HUB_AUTH_KEY, DOCKER_HUB, "index.docker.io", "registry-1.docker.io"]
        return [
            host,
            f"https://{host}",
            f"http://{host}",
            f"https://{host}/v1/",
            f"https://{host}/v2/",
        ]

    def _run_helper(self, name: str, host: str) -> Secret | None:
        if self._helper is None:
            from bakeguard.docker import credential_helper

            self._helper = credential_helper
        server = HUB_AUTH_KEY if host == DOCKER_HUB else host
        got = self._helper(name, server)
        if not got or not got.get("Secret"):
            return None
        return Secret(got.get("Username", ""), got["Secret"])

    def lookup(self, host: str) -> Secret | None:
        helpers = _mapping(self.config.get("credHelpers"))
        for key in self._keys(host):
            if key in helpers:
                return self._run_helper(str(helpers[key]), host)
        auths = _mapping(self.config.get("auths"))
        for key in self._keys(host):
            entry = auths.get(key)
            if not entry:
                continue
            if not isinstance(entry, Mapping):
                self._unreadable(host, key, "not an object")
                return None
            if entry.get("identitytoken"):
                return Secret("<token>", str(entry["identitytoken"]))
            if entry.get("auth"):
                # as the docker CLI reads it: standard base64 of "user:password", user not empty
                try:
                    raw = base64.b64decode(str(entry["auth"]), validate=True).decode()
                except ValueError:
                    self._unreadable(host, key, "its auth is not base64")
                    return None
                user, colon, pw = raw.partition(":")
                if not colon or not user:
                    self._unreadable(host, key, "its auth is not base64 of user:password")
                    return None
                return Secret(user, pw)
            if entry.get("username"):
                return Secret(str(entry["username"]), str(entry.get("password", "")))
        store = self.config.get("credsStore")
        if store:
            return self._run_helper(str(store), host)
        return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def _basic(secret: Secret) -> str:
    return "Basic " + base64.b64encode(f"{secret.username}:{secret.password}".encode()).decode()


class TokenAuth:
    """Basic or Bearer, whichever the registry's 401 challenge asks for; tokens cached, and
    the last answer sent with later requests up front."""

    def __init__(self, secret: Secret | None, send: Send) -> None:
        self.secret = secret
        self.send = send
        self.tokens: dict[tuple[str, str, str], str] = {}
        self.last: str | None = None
        self.lock = threading.Lock()

    def answer(self, challenge: str, deadline: float | None = None) -> str | None:
        """The Authorization header for this challenge (None: nothing to answer with, or the
        token endpoint refused what was sent: the registry's own 401 then stands)."""
        header = self._answer(challenge, deadline)
        if header is not None:
            with self.lock:
                self.last = header
        return header

    def _answer(self, challenge: str, deadline: float | None) -> str | None:
        scheme, _, params_s = challenge.partition(" ")
        params = dict(_CHALLENGE.findall(params_s))
        if scheme.lower() == "basic":
            return None if self.secret is None else _basic(self.secret)
        if scheme.lower() != "bearer" or "realm" not in params:
            return None
        key = (params["realm"], params.get("service", ""), params.get("scope", ""))
        with self.lock:
            if key in self.tokens:
                return f"Bearer {self.tokens[key]}"
        query = {k: v for k, v in (("service", key[1]), ("scope", key[2])) if v}
        if self.secret and self.secret.username == "<token>":
            form = {
                **query,
                "grant_type": "refresh_token",
                "refresh_token": self.secret.password,
                "client_id": "bakeguard",
            }
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            req = Request("POST", key[0], headers, urlencode(form).encode(), deadline)
        else:
            headers = {"Authorization": _basic(self.secret)} if self.secret else {}
            sep = "&" if "?" in key[0] else "?"
            url = f"{key[0]}{sep}{urlencode(query)}" if query else key[0]
            req = Request("GET", url, headers, deadline=deadline)
        r = follow(self.send, req)
        if r.status_code in (401, 403):
            return None
        if r.status_code != 200:
            raise RegistryError(
                f"token endpoint {key[0]} answered {r.status_code}",
                r.status_code,
                transient=r.status_code == 429 or r.status_code >= 500,
            )
        body = r.json()
        token = str(body.get("token") or body.get("access_token") or "")
        with self.lock:
            self.tokens[key] = token
        return f"Bearer {token}"


# ------------------------------------------------------------------ transport


def is_insecure(host: str, insecure: Iterable[str]) -> bool:
    """Loopback, a name the engine lists as insecure, or an address in an insecure CIDR."""
    if is_loopback(host):
        return True
    name = host.rsplit(":", 1)[0]
    for entry in insecure:
        if entry in (host, name):
            return True
        try:
            if ipaddress.ip_address(name) in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


@dataclass
class _Host:
    """One registry host as this run speaks to it: its base URL and its credentials."""

    base: str  # scheme://host
    auth: TokenAuth
    send: Send

    @property
    def scheme(self) -> str:
        return self.base.split(":", 1)[0]

    def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
        deadline: float | None = None,
    ) -> Response:
        """One request (redirects followed); a 401 challenge is answered once (a write's
        challenge asks for a push scope: the token endpoint is asked for that one)."""
        h = {"User-Agent": "bakeguard", **headers}
        with self.auth.lock:
            if self.auth.last:
                h["Authorization"] = self.auth.last
        r = follow(self.send, Request(method, self.base + path, h, body, deadline))
        if r.status_code == 401:
            answer = self.auth.answer(r.header("WWW-Authenticate"), deadline)
            if answer is not None:
                h["Authorization"] = answer
                r = follow(self.send, Request(method, self.base + path, h, body, deadline))
        return r


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
    _hosts: dict[str, _Host] = field(default_factory=dict)
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

    def _new_host(self, host: str, scheme: str) -> _Host:
        send = self._send()
        return _Host(f"{scheme}://{host}", TokenAuth(self.credentials.lookup(host), send), send)

    def _host(self, host: str, deadline: float) -> _Host:
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

    def _switch_to_https(self, host: str, old: _Host) -> _Host:
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
        """A 401 or 403 for ref, said the way a user fixes it."""
        host = ref.registry
        with self._lock:
            known = self._hosts.get(ref.api_host)
        secret = known.auth.secret if known else None
        status = f"{r.status_code}{_error_text(r)}"
        if r.status_code == 403:
            right = "pull" if method in ("GET", "HEAD") else "push"
            who = (
                f"the account {secret.username!r}"
                if secret and secret.username != "<token>"
                else "the account of the stored token"
                if secret
                else f"anonymous access (no credentials for {host})"
            )
            return AccessDenied(
                f"{host} denied {method} on {ref.repository} ({status}): {who} lacks "
                f"{right} rights on the repository",
                403,
                "forbidden",
                f"have {right} rights on {ref.repository} granted, or docker login {host} "
                "as an account that has them",
            )
        if secret is None:
            return AccessDenied(
                f"{host} asks for credentials to read {ref.repository} ({status}), and there "
                f"are no credentials for {host} in {self.credentials.path} (or its credential "
                "helper)",
                401,
                "no-credentials",
                f"docker login {host}",
            )
        return AccessDenied(
            f"{host} refused access to {ref.repository} ({status}): the credentials for "
            f"{host} were refused (wrong or expired)",
            401,
            "refused",
            f"docker login {host} again",
        )

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
            raise _unreachable(ref.registry, e, self._within()) from e
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
        Ctrl-C included); the warm-up ends within its own bound."""
        hosts = list({Reference.parse(r).registry: Reference.parse(r) for r in refs}.values())

        def warm() -> None:
            for ref in hosts:
                with contextlib.suppress(RegistryError):
                    self.ping(ref)

        if hosts:
            threading.Thread(target=warm, daemon=True).start()

    def manifest(self, ref: Reference, lag_ok: bool = False) -> Manifest:
        r = self._request("GET", ref, f"manifests/{ref.ref}", lag_ok=lag_ok and not ref.digest)
        body = r.content
        digest = r.header("Docker-Content-Digest") or ("sha256:" + hashlib.sha256(body).hexdigest())
        ctype = r.header("Content-Type").split(";")[0].strip()
        doc = json.loads(body)
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

    def blob_json(self, ref: Reference, digest: str) -> Mapping[str, Any]:
        r = self._request("GET", ref, f"blobs/{digest}")
        return json.loads(r.content)  # type: ignore[no-any-return]


def _unreachable(registry: str, e: TransportError, within: str) -> Unreachable:
    """What a request that got no answer says, by how it got none."""
    said = {
        "dns": f"{registry}: the name does not resolve ({e})",
        "refused": f"{registry} refused the connection ({e})",
        "reset": f"{registry} closed the connection unanswered ({e})",
        "tls": f"{registry}: the TLS handshake failed ({e})",
        "timeout-connect": f"{registry} did not accept a connection within {within}",
        "timeout-tls": (
            f"{registry} accepted the connection but did not complete the TLS handshake "
            f"within {within}"
        ),
        "timeout": f"{registry} accepted the connection but did not answer within {within}",
    }
    return Unreachable(said.get(e.kind, f"{registry}: {e}"), kind=e.kind)


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
