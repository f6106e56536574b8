"""buildx version strings, in every form seen in the field, mapped to comparable versions.

`docker buildx version` prints `github.com/docker/buildx VERSION REVISION`, where VERSION is
`v0.21.1` (official), `v0.21.1-desktop.2` (Docker Desktop), `0.13.1+ds1` (Debian),
`0.30.1-0ubuntu1` (Ubuntu), `0.4.1+azure-1` (Azure/Moby), `v0.22.0-rc1` (a pre-release),
`v0.0.0+unknown` (a source build without ldflags) or a bare commit sha (a dev build).
A version we cannot place is "unknown", never silently "safe".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

_SEMVER = re.compile(
    r"^v?(?P<rel>\d+\.\d+\.\d+)"
    r"(?:-(?P<pre>rc|beta|alpha)\.?(?P<pren>\d+))?"
    r"(?P<rest>[-+~.].*)?$"
)
_SHA = re.compile(r"^[0-9a-f]{7,40}$")


@dataclass(frozen=True)
class BuildxVersion:
    raw: str  # the whole `docker buildx version` line (or what we were given)
    text: str  # the version token
    version: Version | None  # None = unknown: dev build, sha, unparseable
    flavor: (
        str  # official | desktop | debian | ubuntu | azure | prerelease | vendor | dev | unknown
    )

    @property
    def known(self) -> bool:
        return self.version is not None

    def __str__(self) -> str:
        return str(self.version) if self.version else f"unknown ({self.text or self.raw!r})"


def parse_buildx_version(output: str) -> BuildxVersion:
    raw = output.strip().splitlines()[0].strip() if output.strip() else ""
    tokens = raw.split()
    if tokens and "/" in tokens[0]:  # module path first: github.com/docker/buildx
        tokens = tokens[1:]
    text = tokens[0] if tokens else ""
    return BuildxVersion(raw, text, *_classify(text))


def _classify(text: str) -> tuple[Version | None, str]:
    if not text:
        return None, "unknown"
    if _SHA.match(text):
        return None, "dev"
    m = _SEMVER.match(text)
    if not m:
        return None, "unknown"
    rel, rest = m.group("rel"), m.group("rest") or ""
    if rel == "0.0.0":
        return None, "dev"
    if m.group("pre"):
        pre = {"rc": "rc", "beta": "b", "alpha": "a"}[m.group("pre")]
        try:
            return Version(f"{rel}{pre}{m.group('pren')}"), "prerelease"
        except InvalidVersion:  # pragma: no cover - the regex admits only digits
            return None, "unknown"
    if not rest:
        return Version(rel), "official"
    low = rest.lower()
    if "desktop" in low:
        flavor = "desktop"
    elif "+ds" in low or "debian" in low or "+dfsg" in low:
        flavor = "debian"
    elif "ubuntu" in low:
        flavor = "ubuntu"
    elif "azure" in low:
        flavor = "azure"
    elif re.match(r"^-\d+-g[0-9a-f]+", rest) or "dirty" in low:
        # `git describe` of a commit past a tag: newer than the tag, not the release itself
        return None, "dev"
    else:
        flavor = "vendor"
    return Version(rel), flavor
