"""Credentials as docker keeps them (config.json's `auths`, `credsStore`, `credHelpers`),
looked up per registry host. Never logged; an `auth` entry docker could not read either is
no credentials, with a warning."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakeguard.refs import DOCKER_HUB

HUB_AUTH_KEY = "https://index.docker.io/v1/"
# Docker Hub's names: the CLI keeps its credentials under HUB_AUTH_KEY, and the daemon maps
# index.docker.io and docker.io to registry-1.docker.io, the API host (moby,
# daemon/containerd/resolver.go: authorizerFromAuthConfig)
HUB_HOSTS = (DOCKER_HUB, "index.docker.io", "registry-1.docker.io")


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
        if host in HUB_HOSTS:
            return [HUB_AUTH_KEY, *HUB_HOSTS]
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
        server = HUB_AUTH_KEY if host in HUB_HOSTS else host
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
