"""Image reference syntax (`[registry/]repository[:tag][@digest]`), the way docker reads it.
Standard library only: the split plans from references before any HTTP code is loaded."""

from __future__ import annotations

from dataclasses import dataclass

DOCKER_HUB = "docker.io"


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
        if slash and ("." in first or ":" in first or first == "localhost"):
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
