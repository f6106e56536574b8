"""--guard-merge reads the shards' digest files whole before it assembles anything: a file
that cannot be one a shard wrote is exit 2, naming the file, the key and the fix."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bakeguard.errors import UsageError
from bakeguard.registry.attest import KINDS, Wanted
from bakeguard.split import shards
from bakeguard.split.shards import read_digest_files

PLATFORMS = ["linux/amd64", "linux/arm64"]


def doc(platform: Any = "linux/amd64", **change: Any) -> dict[str, Any]:
    d = {
        "schema": "bakeguard-digest/1",
        "target": "app",
        "platform": platform,
        "platforms": PLATFORMS,
        "source": f"r.example/app@sha256:{'a' if platform == 'linux/amd64' else 'c':0<64}",
        "refs": ["r.example/app:v1"],
        "annotations": [],
        **change,
    }
    return {k: v for k, v in d.items() if v is not ...}


def refused(folder: Path) -> str:
    with pytest.raises(UsageError) as e:
        read_digest_files(folder, logging.getLogger("test"))
    assert e.value.exit_code == 2
    return e.value.message()


def test_a_folder_without_any_digest_file_is_refused(tmp_path: Path) -> None:
    """A CI merge job pointed at the wrong folder used to pass, having assembled nothing."""
    (tmp_path / "package.json").write_text('{"name": "x"}')
    (tmp_path / "other.json").write_text('{"schema": "something/1"}')
    msg = refused(tmp_path)
    assert f"no bakeguard digest file (JSON with schema bakeguard-digest/1) in {tmp_path}" in msg
    assert "other.json, package.json" in msg and "copy every shard's --guard-digests" in msg
    assert "not a folder" in refused(tmp_path / "missing")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ([doc()], "is a JSON list, not a bakeguard digest file"),
        (None, "is null, not a bakeguard digest file"),
        (doc(source=...), "lacks `source`"),
        (doc(target=...), "lacks `target`"),
        (doc(platform=...), "lacks `platform`"),
        (doc(platforms=...), "lacks `platforms`"),
        (doc(refs=...), "lacks `refs`"),
        (doc(platforms="linux/amd64"), "`platforms` must be a list of the target's platforms"),
        (doc(refs=[1]), "`refs` must be a list of the tags to write"),
        (doc(source="r.example/app:v1"), "`source` must be the pushed image by digest"),
        (doc(target={}), "`target` must be the target's name"),
        (doc(platform="linux/s390x"), "`platform` linux/s390x is not one of `platforms`"),
        (doc(annotations="x"), "`annotations` must be a list of strings"),
        (doc(attestations=["slsa"]), "`attestations` must be a list of provenance / sbom"),
        (doc(attestations="provenance"), "`attestations` must be a list of provenance / sbom"),
        (doc(attestations_dropped="a\nb"), "`attestations_dropped` must be one line of text"),
    ],
)
def test_a_digest_file_that_no_shard_wrote_is_refused_naming_file_and_key(
    tmp_path: Path, content: Any, needle: str
) -> None:
    (tmp_path / "app-linux-arm64.json").write_text(json.dumps(doc("linux/arm64")))
    (tmp_path / "app-linux-amd64.json").write_text(json.dumps(content))
    msg = refused(tmp_path)
    assert f"--guard-merge: {tmp_path / 'app-linux-amd64.json'}: {needle}" in msg
    assert "fix: re-run that shard" in msg and "--guard-digests folder again" in msg


def test_text_that_is_not_json_is_refused(tmp_path: Path) -> None:
    (tmp_path / "app.json").write_bytes(b"\xff\xfe{")
    assert "app.json: is not JSON" in refused(tmp_path)


def test_files_of_another_kind_beside_digest_files_are_ignored_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for p in PLATFORMS:
        (tmp_path / f"app-{p.replace('/', '-')}.json").write_text(json.dumps(doc(p)))
    (tmp_path / "package.json").write_text('{"name": "x"}')
    with caplog.at_level(logging.WARNING):
        found = read_digest_files(tmp_path, logging.getLogger("test"))
    assert [d["platform"] for _f, d in found["app"]] == PLATFORMS
    assert "ignoring package.json" in caplog.text and "not bakeguard digest files" in caplog.text


def test_shards_that_disagree_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(doc()))
    (tmp_path / "b.json").write_text(json.dumps(doc("linux/arm64", refs=["r.example/app:v2"])))
    assert "disagree on `refs`" in refused(tmp_path)
    (tmp_path / "b.json").write_text(json.dumps(doc(source=f"r.example/app@sha256:{'b' * 64}")))
    assert "two digest files of target app push linux/amd64" in refused(tmp_path)
    (tmp_path / "b.json").write_text(json.dumps({"schema": "bakeguard-digest/2"}))
    assert "schema bakeguard-digest/2, which this bakeguard" in refused(tmp_path)


def test_the_merge_wants_the_attestations_every_shard_pushed(tmp_path: Path) -> None:
    """A shard's file names its push's attestations; one of an older bakeguard, none."""
    (tmp_path / "a.json").write_text(json.dumps(doc(attestations=["provenance", "sbom"])))
    (tmp_path / "b.json").write_text(json.dumps(doc("linux/arm64", attestations=["provenance"])))
    found = read_digest_files(tmp_path, logging.getLogger("test"))["app"]
    assert shards.wanted([d for _f, d in found]) == Wanted(("provenance",))
    (tmp_path / "b.json").write_text(json.dumps(doc("linux/arm64")))
    found = read_digest_files(tmp_path, logging.getLogger("test"))["app"]
    assert shards.wanted([d for _f, d in found]) == Wanted()
    dropped = doc(attestations=[], attestations_dropped="the docker-v2 profile pushes without them")
    assert shards.wanted([dropped]).dropped == "the docker-v2 profile pushes without them"
    assert shards.KINDS == KINDS
