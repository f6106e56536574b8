from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from bakeguard.docker import Docker, Result
from bakeguard.probe import interpret, parse_info, parse_inspect, probe

DATA = Path(__file__).parent.parent / "data" / "probe"


@pytest.mark.parametrize("label", ["debian", "v0.21.1", "v0.22.0", "v0.38.2"])
def test_inspect_of_every_version(label: str) -> None:
    default = parse_inspect((DATA / f"inspect-{label}-default.txt").read_text())
    assert default is not None
    assert (default.name, default.driver, len(default.nodes)) == ("default", "docker", 1)
    multi = parse_inspect((DATA / f"inspect-{label}-bg-multi.txt").read_text())
    assert multi is not None
    assert (multi.driver, [n.name for n in multi.nodes]) == ("remote", ["bg-multi0", "bg-multi1"])
    assert "linux/arm/v7" in multi.nodes[1].platforms
    assert multi.nodes[0].endpoint.endswith("buildkit1.sock")


def test_old_buildkit_key() -> None:
    text = (
        "Name: b\nDriver: docker-container\n\nNodes:\nName: b0\nEndpoint: unix:///x\n"
        "Status: running\nBuildkit: v0.12.5\nPlatforms: linux/amd64\n"
    )
    b = parse_inspect(text)
    assert b is not None and b.nodes[0].buildkit == "v0.12.5"


def test_garbage_inspect_is_unknown() -> None:
    assert parse_inspect('ERROR: no builder "x" found') is None


def test_info_containerd_store_and_insecure() -> None:
    info = parse_info(
        '{"driver_status":[["driver-type","io.containerd.snapshotter.v1"]],'
        '"registry":{"InsecureRegistryCIDRs":["127.0.0.0/8"],'
        '"IndexConfigs":{"reg:5000":{"Secure":false},"docker.io":{"Secure":true}}}}'
    )
    assert info.containerd_store is True
    assert set(info.insecure_registries) == {"127.0.0.0/8", "reg:5000"}
    classic = parse_info('{"driver_status":[["Backing Filesystem","extfs"]],"registry":{}}')
    assert classic.containerd_store is False
    assert parse_info("not json").containerd_store is None


def test_recorded_info_is_containerd() -> None:
    text = (DATA / "info-driverstatus-containerd.json").read_text()
    assert parse_info(f'{{"driver_status":{text},"registry":{{}}}}').containerd_store is True


class FakeDocker(Docker):
    def __init__(self, outputs: dict[str, Result]) -> None:
        super().__init__("/nonexistent/docker")
        self.outputs = outputs
        self.calls: list[tuple[str, ...]] = []

    def capture(self, args, timeout=60, env=None, stdin=None, nice=False, direct=False):  # type: ignore[no-untyped-def]
        self.calls.append(tuple(args))
        return self.outputs[args[1] if args[0] == "buildx" else args[0]]


def _outputs(version: str = "github.com/docker/buildx v0.21.1 7c2359c6b") -> dict[str, Result]:
    return {
        "version": Result((), 0, version, ""),
        "inspect": Result((), 0, (DATA / "inspect-v0.21.1-default.txt").read_text(), ""),
        "info": Result(
            (), 0, '{"driver_status":[["driver-type","io.containerd.snapshotter.v1"]]}', ""
        ),
    }


def test_probe_runs_three_commands_and_caches(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    d = FakeDocker(_outputs())
    e = probe(d, None, env)
    assert (str(e.buildx), e.driver, e.containerd_store) == ("0.21.1", "docker", True)
    assert len(d.calls) == 3
    again = probe(d, None, env)
    assert len(d.calls) == 3 and again == e  # served from the cache
    probe(d, "other-builder", env)
    assert ("buildx", "inspect", "other-builder") in d.calls  # the key includes the builder
    probe(d, None, {**env, "BAKEGUARD_PROBE_TTL": "0"})
    assert len(d.calls) == 9


def test_failed_probe_is_unknown_and_not_cached(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    outs = _outputs()
    outs["inspect"] = Result((), 1, "", 'ERROR: no builder "nope" found')
    d = FakeDocker(outs)
    e = probe(d, "nope", env)
    assert e.builder is None and e.driver is None
    assert any("no builder" in p for p in e.problems)
    probe(d, "nope", env)
    assert len(d.calls) == 6


def test_containerd_store_only_matters_on_the_docker_driver() -> None:
    raw = {k: [r.code, r.stdout, r.stderr] for k, r in _outputs().items()}
    raw["inspect"][1] = (DATA / "inspect-v0.21.1-bg-multi.txt").read_text()
    e = interpret(raw)
    assert e.driver == "remote" and e.containerd_store is None and e.node_count == 2


def test_info_names_the_buildx_plugin_docker_runs() -> None:
    text = (
        '{"driver_status":[],"registry":{},"plugins":['
        '{"Name":"compose","Path":"/usr/libexec/docker/cli-plugins/docker-compose"},'
        '{"Name":"buildx","Path":"/home/u/.docker/cli-plugins/docker-buildx"}]}'
    )
    assert parse_info(text).buildx_path == "/home/u/.docker/cli-plugins/docker-buildx"
    broken = '{"plugins":[{"Name":"buildx","Path":"/x/docker-buildx","Err":"not executable"}]}'
    assert parse_info(broken).buildx_path is None
    assert parse_info('{"driver_status":[],"registry":{}}').buildx_path is None


def _cached_file(tmp_path: Path) -> Path:
    (found,) = (tmp_path / "bakeguard" / "probe").glob("*.json")
    return found


def _damages() -> dict[str, Any]:
    raw = {k: [0, "", ""] for k in ("version", "inspect", "info")}
    return {
        "garbage": b"\x80garbage",
        "list": [],
        "null": None,
        "at-text": {"at": "soon", "raw": raw},
        "at-future": {"at": 1e999, "raw": "GOOD"},  # was fresh forever
        "raw-list": {"at": "NOW", "raw": []},
        "raw-short": {"at": "NOW", "raw": {**raw, "info": 5}},
        "raw-types": {"at": "NOW", "raw": {**raw, "version": [0, 1, ""]}},
        "code-text": {"at": "NOW", "raw": {**raw, "info": ["0", "", ""]}},
    }


@pytest.mark.parametrize("damage", sorted(_damages()))
def test_a_damaged_cache_is_probed_again_and_rewritten(tmp_path: Path, damage: str) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    d = FakeDocker(_outputs())
    good = probe(d, None, env)
    f = _cached_file(tmp_path)
    value = _damages()[damage]
    if not isinstance(value, bytes):
        text = json.dumps(value).replace('"NOW"', str(time.time()))
        value = text.replace('"GOOD"', json.dumps(json.loads(f.read_text())["raw"])).encode()
    f.write_bytes(value)
    assert probe(d, None, env) == good and len(d.calls) == 6  # probed again
    assert probe(d, None, env) == good and len(d.calls) == 6  # from the rewritten cache


def test_a_cached_info_of_unexpected_shape_is_read_without_a_traceback(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    outs = _outputs()
    outs["info"] = Result((), 0, "[]", "")
    probe(FakeDocker(outs), None, env)
    assert probe(FakeDocker(outs), None, env).engine.containerd_store is None


@pytest.mark.parametrize(
    "info",
    ["[]", "null", '{"registry": []}', '{"registry": {"IndexConfigs": []}}', '{"plugins": 1}'],
)
def test_info_of_unexpected_shape_is_unknown(info: str) -> None:
    assert parse_info(info).buildx_path is None
