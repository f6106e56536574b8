"""Each node's BuildKit as advisories match it (bakeguard.engines): the node's own report, or
on the docker driver, where the engine's built-in BuildKit says v0.0.0+unknown, the BuildKit
the engine's release builds in (data/engine-buildkit.json, read from moby's release tags)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from bakeguard import engines
from bakeguard.matching import facts_version
from bakeguard.probe import Builder, EngineInfo, Environment, Node, parse_info
from bakeguard.versions import parse_buildx_version


@pytest.mark.parametrize(
    ("engine", "buildkit"),
    [
        ("28.5.2", "v0.25.2"),
        ("28.5.2+dfsg4", "v0.25.2"),  # Debian's build of 28.5.2 (the test ground's engine)
        ("28.5.1", "v0.25.1"),
        ("29.0.4", "v0.25.2"),
        ("29.1.3", "v0.26.2"),
        ("29.1.4", "v0.26.3"),
        ("29.6.2", "v0.31.2"),
        ("29.7.0", "v0.32.0"),
        ("29.7.1", "v0.32.0"),
        ("29.7.2", "v0.32.2"),
        ("27.1.2", "v0.15.1"),
        ("25.0.15", "v0.12.5"),
        ("25.0.16", "v0.12.6-m.1"),  # moby's replace: Mirantis' fork
        ("v26.1.5", "v0.13.2"),
        ("29.7.3", None),  # newer than bakeguard's table: cannot tell
        ("29.7.0-rc.1", None),  # a release candidate is not the release
        ("24.0.7", None),
        ("27.0.0", None),  # never tagged
        ("master-dockerproject-2026-01-01", None),
        ("", None),
        (None, None),
    ],
)
def test_the_engine_release_names_its_buildkit(engine: str | None, buildkit: str | None) -> None:
    assert engines.vendored(engine) == buildkit


def test_the_table_is_well_formed_ordered_and_without_overlap() -> None:
    doc = json.loads(Path(engines.TABLE).read_text())
    assert "github.com/moby/moby" in doc["about"]
    rows = doc["engines"]
    assert len(rows) == len(engines._table()) > 30  # no row was skipped as damaged
    probes = [
        Version(f"{a}.{b}.{c}") for a in (25, 26, 27, 28, 29) for b in range(8) for c in range(20)
    ]
    for v in probes:
        hits = [r for r in rows if v in SpecifierSet(r["engine"])]
        assert len(hits) <= 1, (str(v), hits)
    for r in rows:
        assert facts_version(r["buildkit"]) is not None and r["read"], r


def env_of(driver: str, reported: str | None, engine: str | None) -> Environment:
    node = Node("n0", "default", "running", reported, ("linux/amd64",))
    return Environment(
        parse_buildx_version("github.com/docker/buildx v0.38.2 abc"),
        Builder("b", driver, (node,)),
        EngineInfo(True, version=engine),
    )


@pytest.mark.parametrize(
    ("driver", "reported", "engine", "version", "source", "why"),
    [
        ("docker", "v0.0.0+unknown", "29.7.1", "v0.32.0", "engine", "as engine 29.7.1's release"),
        ("docker", None, "28.5.2+dfsg4", "v0.25.2", "engine", "engine 28.5.2+dfsg4"),
        ("docker", "v0.26.2", "29.1.0", "v0.26.2", "node", "as the node reports it"),
        ("docker", "v0.0.0+unknown", None, None, None, "the engine's version is unknown"),
        ("docker", "v0.0.0+unknown", "24.0.7", None, None, "engine 24.0.7 is not a release"),
        # another driver's node runs its own BuildKit, whatever the engine is
        ("remote", "v0.0.0+unknown", "29.7.1", None, None, "the node reports v0.0.0+unknown"),
        ("remote", "v0.34.2", "28.5.2", "v0.34.2", "node", "as the node reports it"),
    ],
)
def test_a_node_s_buildkit_and_where_it_comes_from(
    driver: str,
    reported: str | None,
    engine: str | None,
    version: str | None,
    source: str | None,
    why: str,
) -> None:
    env = env_of(driver, reported, engine)
    (found,) = engines.buildkits(env)
    assert (found.version, found.source) == (version, source)
    assert why in found.why


def test_the_engine_version_comes_from_the_probe_s_docker_info_call() -> None:
    """(the probe's `docker info` call, not one more docker call: its cost is measured)"""
    info = parse_info('{"driver_status":[],"registry":{},"server_version":"29.7.1"}')
    assert info.version == "29.7.1"
    assert parse_info('{"driver_status":[],"registry":{}}').version is None  # an older cache
    assert parse_info('{"driver_status":[],"server_version":7}').version is None
    hostile = parse_info('{"server_version":"29.7.1\\u001b[2J' + "x" * 200 + '"}').version
    assert hostile is not None and "\x1b" not in hostile and len(hostile) <= 64
