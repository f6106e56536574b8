from __future__ import annotations

import pytest
from packaging.version import Version

from bakeguard.versions import parse_buildx_version


@pytest.mark.parametrize(
    ("line", "version", "flavor"),
    [
        ("github.com/docker/buildx v0.21.1 7c2359c6b", "0.21.1", "official"),
        ("github.com/docker/buildx v0.21.1-desktop.2 0b8f2c1", "0.21.1", "desktop"),
        ("github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3", "0.13.1", "debian"),
        ("github.com/docker/buildx 0.30.1-0ubuntu1 0.30.1-0ubuntu1", "0.30.1", "ubuntu"),
        (
            "github.com/docker/buildx 0.4.1+azure-1 bda4882a65349ca359216b135896bddc1d92461c",
            "0.4.1",
            "azure",
        ),
        ("github.com/docker/buildx v0.22.0-rc1 abc1234", "0.22.0rc1", "prerelease"),
        ("v0.38.2", "0.38.2", "official"),
    ],
)
def test_known_forms(line: str, version: str, flavor: str) -> None:
    v = parse_buildx_version(line)
    assert v.version == Version(version)
    assert v.flavor == flavor
    assert v.known


@pytest.mark.parametrize(
    ("line", "flavor"),
    [
        ("github.com/docker/buildx v0.0.0+unknown", "dev"),
        ("github.com/docker/buildx 6f8d3a6 6f8d3a6c7a6e5", "dev"),
        ("github.com/docker/buildx v0.21.1-12-g7c2359c6b 7c2359c6b", "dev"),
        ("", "unknown"),
        ("docker: 'buildx' is not a docker command.", "unknown"),
    ],
)
def test_unknown_forms_are_never_a_version(line: str, flavor: str) -> None:
    v = parse_buildx_version(line)
    assert v.version is None
    assert v.flavor == flavor
    assert "unknown" in str(v)


def test_recorded_outputs_of_the_stack() -> None:
    from pathlib import Path

    data = Path(__file__).parent.parent / "data" / "probe"
    got = {p.name: parse_buildx_version(p.read_text()).version for p in data.glob("version-*")}
    assert got == {
        "version-debian.txt": Version("0.13.1"),
        "version-v0.21.1.txt": Version("0.21.1"),
        "version-v0.22.0.txt": Version("0.22.0"),
        "version-v0.38.2.txt": Version("0.38.2"),
    }
