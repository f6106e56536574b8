"""Image reference syntax (`[registry/]repository[:tag][@digest]`), the way docker reads it.
Standard library only: the split plans from references before any HTTP code is loaded."""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"

# The reference grammar of https://github.com/distribution/reference (v0.6.0, regexp.go:
# `pathComponent`, `domainAndPort`, `tag`, `digestPat`; reference.go:
# `RepositoryNameTotalLengthMax`), which buildx, BuildKit and the engine parse every image
# name with (normalize.go's ParseNormalizedNamed). ASCII only: Go's `\w` is [0-9A-Za-z_].
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_IDENTIFIER = re.compile(r"[a-f0-9]{64}")
REPOSITORY_MAX = 255


def alias(host: str) -> str:
    """The other name of a loopback registry (localhost:P and 127.0.0.1:P are one registry
    to the engine), or the host itself."""
    for a, b in (("127.0.0.1", "localhost"), ("localhost", "127.0.0.1")):
        if host == a or host.startswith(a + ":"):
            return b + host[len(a) :]
    return host


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, ref: str) -> Reference:
        name, _, digest = ref.partition("@")
        first, slash, rest = name.partition("/")
        # (as docker's splitDockerDomain: an uppercase first component is a registry too)
        if slash and (
            "." in first or ":" in first or first == "localhost" or first.lower() != first
        ):
            registry, path = first, rest
        else:
            registry, path = DOCKER_HUB, name
            if "/" not in path:
                path = f"library/{path}"
        tag = None
        last = path.rsplit("/", 1)[-1]
        if ":" in last:
            path, _, tag = path.rpartition(":")
        if registry in ("index.docker.io", "registry-1.docker.io"):
            registry = DOCKER_HUB
        return cls(registry, path, tag or (None if digest else "latest"), digest or None)

    @property
    def api_host(self) -> str:
        return "registry-1.docker.io" if self.registry == DOCKER_HUB else self.registry

    @property
    def ref(self) -> str:
        """What to ask the registry for: the digest if there is one, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        s = f"{self.registry}/{self.repository}"
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s


def problem(ref: str) -> str | None:
    """Why docker would refuse `ref` as an image reference (None: it is one), said for the
    part that is wrong. Follows ParseNormalizedNamed: the registry split off as
    splitDockerDomain does, then the grammar above, piece by piece (no regular expression
    over the whole reference, so no input can make the match slow)."""
    if not ref:
        return "the reference is empty"
    if not ref.isascii() or not ref.isprintable():
        bad = "".join(dict.fromkeys(c for c in ref if not (c.isascii() and c.isprintable())))
        return f"it holds {bad!r}: a reference is ASCII letters, digits and . _ - / : @"
    if _IDENTIFIER.fullmatch(ref):
        return "a 64-character hexadecimal name is an image ID, not a repository"
    name, at, digest = ref.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        return f"{digest!r} is not a digest (ALGORITHM:HEX, e.g. sha256:...)"
    first, slash, rest = name.partition("/")
    is_domain = slash and (
        first == "localhost" or any(c in first for c in ".:") or first.lower() != first
    )
    domain, remainder = (first, rest) if is_domain else ("", name)
    path, tag = remainder, None
    if ":" in remainder.rsplit("/", 1)[-1]:
        path, _, tag = remainder.rpartition(":")
    if domain and not _DOMAIN.fullmatch(domain):
        return f"{domain!r} is not a registry host[:port]"
    if path.lower() != path:
        return f"the repository name {path!r} must be lowercase"
    bad_parts = [p for p in path.split("/") if not _PATH_COMPONENT.fullmatch(p)]
    if bad_parts:
        return (
            f"{bad_parts[0]!r} in {path!r} is not a repository name component (lowercase "
            "letters and digits, separated by one '.', one or two '_' or any '-')"
        )
    if len(path) > REPOSITORY_MAX:
        return f"the repository name is {len(path)} characters long, at most {REPOSITORY_MAX}"
    if tag is not None and not _TAG.fullmatch(tag):
        if len(tag) > 128:
            return f"the tag is {len(tag)} characters long, at most 128"
        return (
            f"{tag!r} is not a tag (letters, digits, '_', '.' and '-', not starting with "
            "'.' or '-')"
        )
    return None
