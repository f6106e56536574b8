"""What the registry protocol answers with: media types and the errors
(no answer at all, access denied, a tag not there yet)."""

from __future__ import annotations

import json
from typing import Any

from bakeguard.refs import Reference
from bakeguard.registry.manifests import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from bakeguard.registry.transport import (
    TransportError,
    size_text,
)

ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))


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


def unreachable_error(registry: str, e: TransportError, within: str) -> Unreachable:
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


def transport_error(ref: Reference, what: str, e: TransportError, within: str) -> RegistryError:
    """What a request for ref (`what`: "GET /v2/...") that failed in the transport says: no
    answer at all is Unreachable (unreachable_error); an answer that came but cannot be used
    says what the registry did, which no proxy variable or CA fixes. A garbled or broken-off
    answer may pass (a front or proxy out of step), so it is retried; one past its cap is
    not."""
    registry = ref.registry
    if e.kind == "too-large":
        return RegistryError(
            f"the registry's answer for {ref} ({what}) is larger than "
            f"{size_text(e.limit or 0)}, the most bakeguard reads of it: not read further ({e})"
        )
    if e.kind == "bad-url":
        return RegistryError(f"{registry}: {what} for {ref} was not sent: {e}")
    if e.kind == "timeout-body":
        return RegistryError(
            f"{registry} began to answer {what} for {ref}, but its answer had not ended "
            f"within {within}"
        )
    if e.kind == "short":
        return RegistryError(
            f"{registry} broke off its answer to {what} for {ref} before its end (the "
            f"connection closed, or the body's framing broke: {e})",
            transient=True,
        )
    if e.kind == "garbled":
        return RegistryError(
            f"{registry} answered {what} for {ref} with something that is not HTTP ({e}): "
            "a front or proxy out of step with its connections?",
            transient=True,
        )
    return unreachable_error(registry, e, within)


def access_denied(
    ref: Reference,
    method: str,
    code: int,
    status: str,
    user: str | None,
    config: str,
    other: str | None = None,
) -> AccessDenied:
    """What a 401 or 403 for `ref` means and its fix: no credentials for the host in
    `config` (docker's config.json; `user` None), credentials that were refused, or an
    account (`user`, "<token>" for a stored token; or anonymous access) that lacks the
    rights. `other`: the host that refused, when the registry redirected the request there
    (its own credentials were the ones asked for)."""
    host = other or ref.registry
    if other is not None:
        status = f"{status}; {ref.registry} had redirected {method} to {other}"
    if code == 403:
        right = "pull" if method in ("GET", "HEAD") else "push"
        who = (
            f"the account {user!r}"
            if user is not None and user != "<token>"
            else "the account of the stored token"
            if user is not None
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
    if user is None:
        return AccessDenied(
            f"{host} asks for credentials to read {ref.repository} ({status}), and there "
            f"are no credentials for {host} in {config} (or its credential helper)",
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


def json_object(ref: Reference, body: bytes, what: str) -> dict[str, Any]:
    """A body that must be a JSON object; anything else (a proxy's HTML login page, say) is
    the registry's error, said as one, never a traceback."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise RegistryError(f"{ref.registry}: the {what} of {ref} is not a JSON object")
    return doc
