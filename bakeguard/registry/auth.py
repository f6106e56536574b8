"""Credentials as docker keeps them (config.json's `auths`, `credsStore`, `credHelpers`) and
the answer to a registry's 401 challenge: basic auth or the bearer token flow. Never logged;
an `auth` entry docker could not read either is no credentials, with a warning."""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bakeguard.refs import DOCKER_HUB
from bakeguard.registry.errors import RegistryError
from bakeguard.registry.transport import (
    Request,
    Send,
    follow,
)

HUB_AUTH_KEY = "https://index.docker.io/v1/"


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
