"""The answer to a registry's 401 challenge (basic auth, or the bearer token flow), kept per
host, as containerd and docker keep it.

The rule (containerd, core/remotes/docker/authorizer.go: `handlers` "indexed by host name";
AddResponses takes the host of the last response, after redirects, and asks for that host's
credentials; Authorize, also called for every redirect (resolver.go, CheckRedirect), sets
only the Authorization of the request's own host; docker's daemon gives the credentials of
the configured host only and answers another host's challenge anonymously, moby
daemon/containerd/resolver.go, authorizerFromAuthConfig):

- credentials and tokens are kept per origin (scheme://host:port); a request, and each of
  its redirects, carries only the Authorization its own origin earned;
- a challenge is answered with the credentials docker's config holds for the host that sent
  it (or anonymously), never with those of the host a request started at;
- a Bearer realm is used only when it is an absolute https URL, or http when the challenging
  registry is itself plain HTTP (as docker allows for an insecure registry); anything else
  is refused naming the realm, before any request is sent to it.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from urllib.parse import urlencode, urlsplit

from bakeguard.registry.credentials import Credentials, Secret
from bakeguard.registry.errors import RegistryError
from bakeguard.registry.transport import (
    TOKEN_CAP,
    Request,
    Send,
    TransportError,
    follow,
    origin,
    size_text,
)

_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def _basic(secret: Secret) -> str:
    return "Basic " + base64.b64encode(f"{secret.username}:{secret.password}".encode()).decode()


def _shown(text: str) -> str:
    """A registry's text in a message: quoted, control characters escaped, bounded."""
    return repr(text[:200] + ("..." if len(text) > 200 else ""))


class BadRealm(RegistryError):
    """A Bearer challenge whose realm bakeguard will not send a request to."""


class _Origin:
    """What one origin earned: its tokens by (realm, service, scope), and the last answer,
    sent up front with its later requests."""

    def __init__(self) -> None:
        self.tokens: dict[tuple[str, str, str], str] = {}
        self.last: str | None = None


class Keyring:
    """Authorization per origin for one run: `authorize` sets a request's, `answer` answers
    the 401 challenge of the origin a request ended at."""

    def __init__(self, credentials: Credentials, send: Send) -> None:
        self.credentials = credentials
        self.send = send
        self._origins: dict[str, _Origin] = {}
        self._secrets: dict[str, Secret | None] = {}
        self._lock = threading.Lock()

    def secret(self, host: str) -> Secret | None:
        """docker's credentials for host (host[:port]), looked up once."""
        with self._lock:
            if host in self._secrets:
                return self._secrets[host]
        found = self.credentials.lookup(host)  # (a credential helper: not under the lock)
        with self._lock:
            return self._secrets.setdefault(host, found)

    def _state(self, url: str) -> _Origin:
        with self._lock:
            return self._origins.setdefault(origin(url), _Origin())

    def current(self, url: str) -> str | None:
        """The Authorization a request to url carries now (None: none)."""
        with self._lock:
            state = self._origins.get(origin(url))
            return state.last if state else None

    def authorize(self, request: Request) -> None:
        """The request's Authorization: its own origin's, or none (follow calls this for
        every hop, so that a redirect to another host carries nothing of the first's)."""
        last = self.current(request.url)
        if last is None:
            request.headers.pop("Authorization", None)
        else:
            request.headers["Authorization"] = last

    def answer(self, url: str, challenge: str, deadline: float | None = None) -> bool:
        """Answer the 401 challenge `url` got: True when there is a new Authorization to send
        again with (False: nothing to answer with, or what was sent was refused; the 401
        stands). Raises BadRealm for a realm bakeguard sends nothing to."""
        sent = self.current(url)
        header = self._answer(url, challenge, sent, deadline)
        if header is None or header == sent:
            return False
        state = self._state(url)
        with self._lock:
            state.last = header
        return True

    def _answer(
        self, url: str, challenge: str, sent: str | None, deadline: float | None
    ) -> str | None:
        scheme, _, params_s = challenge.strip().partition(" ")
        params = dict(_CHALLENGE.findall(params_s))
        secret = self.secret(urlsplit(url).netloc)
        if scheme.lower() == "basic":
            return None if secret is None else _basic(secret)
        if scheme.lower() != "bearer" or "realm" not in params:
            return None
        realm = params["realm"]
        _check_realm(url, realm)
        key = (realm, params.get("service", ""), params.get("scope", ""))
        state = self._state(url)
        with self._lock:
            cached = state.tokens.get(key)
        if cached is not None and f"Bearer {cached}" != sent:
            return f"Bearer {cached}"
        # none yet, or the one sent was refused (expired): a new one, once
        token = self._fetch(url, key, secret, deadline)
        if token is None:
            return None
        with self._lock:
            state.tokens[key] = token
        return f"Bearer {token}"

    def _fetch(
        self,
        url: str,
        key: tuple[str, str, str],
        secret: Secret | None,
        deadline: float | None,
    ) -> str | None:
        """A token from the realm, asked with the challenging host's own credentials (or
        none); None when the endpoint refuses them (401/403)."""
        realm, service, scope = key
        query = {k: v for k, v in (("service", service), ("scope", scope)) if v}
        if secret and secret.username == "<token>":
            form = {
                **query,
                "grant_type": "refresh_token",
                "refresh_token": secret.password,
                "client_id": "bakeguard",
            }
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            body = urlencode(form).encode()
            req = Request("POST", realm, headers, body, deadline, TOKEN_CAP)
        else:
            headers = {"Authorization": _basic(secret)} if secret else {}
            sep = "&" if "?" in realm else "?"
            target = f"{realm}{sep}{urlencode(query)}" if query else realm
            req = Request("GET", target, headers, None, deadline, TOKEN_CAP)
        host = urlsplit(url).netloc
        try:
            r = follow(self.send, req)
        except TransportError as e:
            if e.kind != "too-large":  # said as the request's, naming where it went
                raise TransportError(f"its token endpoint {_shown(realm)}: {e}", e.kind) from e
            raise RegistryError(
                f"the token endpoint {_shown(realm)} of {host} answered with more than "
                f"{size_text(TOKEN_CAP)}: not read further (a token is a few KB)"
            ) from e
        if r.status_code in (401, 403):
            return None
        if r.status_code != 200:
            raise RegistryError(
                f"the token endpoint {_shown(realm)} of {host} answered {r.status_code}",
                r.status_code,
                transient=r.status_code == 429 or r.status_code >= 500,
            )
        return _token(r.content, realm, host)


def _printable(text: str) -> bool:
    """Visible ASCII only: what a URL or a header value may hold as sent."""
    return all("!" <= c <= "~" for c in text)


def _check_realm(url: str, realm: str) -> None:
    """An absolute https realm; http only when the challenging registry is plain HTTP."""
    u = urlsplit(realm)
    registry = urlsplit(url)
    allowed = ("https", "http") if registry.scheme == "http" else ("https",)
    if u.scheme.lower() in allowed and u.hostname and "@" not in u.netloc and _printable(realm):
        return
    if registry.scheme == "http":
        want = "an absolute http(s) URL"
    else:
        want = "an absolute https URL (http only for a registry that is itself plain HTTP)"
    raise BadRealm(
        f"{registry.netloc} asks for a token from the realm {_shown(realm)}, which is not "
        f"{want}: bakeguard sent nothing there. Check the registry's token auth settings "
        "(or a proxy in front of it rewriting its WWW-Authenticate header)"
    )


def _token(body: bytes, realm: str, host: str) -> str:
    """The token of a token endpoint's answer: a JSON object with a non-empty string
    `token` or `access_token` (distribution's token spec); anything else is said as the
    endpoint's error, never a traceback."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    token = None
    if isinstance(doc, dict):
        token = doc.get("token") or doc.get("access_token")
    if not isinstance(token, str) or not token or not _printable(token):
        raise RegistryError(
            f"the token endpoint {_shown(realm)} of {host} answered 200 without a token "
            "(not a JSON object with a `token` or `access_token` string)"
        )
    return token
