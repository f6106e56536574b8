"""--guard-merge is all or nothing (#23, item 9): every shard's image is read from the registry
before any tag is written. A digest file whose `source` is another platform's image, or whose
image is gone, writes nothing (no `imagetools create`, no PUT) and exits 3 naming the file and
the shard job to re-run; it used to overwrite a good tag with a one-platform index, or exit 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import reports
from tests.unit import bakestub

PLATFORMS = ["linux/amd64", "linux/arm64"]
push_image = bakestub.push_image


@pytest.fixture
def registry() -> Iterator[tuple[bakestub.Registry, str]]:
    reg = bakestub.Registry()
    for address in bakestub.serve(reg):
        yield reg, address


def shard_files(folder: Path, address: str, sources: dict[str, str]) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    files = {}
    for platform, source in sources.items():
        f = folder / f"app-{platform.replace('/', '-')}.json"
        doc = {
            "schema": "bakeguard-digest/1",
            "target": "app",
            "platform": platform,
            "platforms": PLATFORMS,
            "source": source,
            "refs": [f"{address}/o/app:v1"],
            "annotations": [],
        }
        f.write_text(json.dumps(doc))
        files[platform] = f
    return files


def merged(tmp_path: Path, folder: Path) -> tuple[int, str, dict[str, object], list[str]]:
    env = bakestub.environment(tmp_path)
    report = tmp_path / "report.json"
    res = bakestub.bakeguard(
        ["--guard-merge", str(folder), f"--guard-report={report}"], env, tmp_path
    )
    assert "Traceback" not in res.stderr, res.stderr
    imagetools = [" ".join(c["argv"]) for c in bakestub.calls(env) if "imagetools" in c["argv"]]
    return res.returncode, res.stderr, reports.load(report), imagetools


def test_a_digest_file_naming_another_platforms_image_writes_nothing(
    tmp_path: Path, registry: tuple[bakestub.Registry, str]
) -> None:
    reg, address = registry
    amd64 = push_image(reg, "o/app", "linux/amd64")
    push_image(reg, "o/app", "linux/arm64")
    files = shard_files(
        tmp_path / "digests",
        address,
        {"linux/amd64": f"{address}/o/app@{amd64}", "linux/arm64": f"{address}/o/app@{amd64}"},
    )
    code, err, report, imagetools = merged(tmp_path, tmp_path / "digests")
    assert code == 3, err
    assert (
        f"{files['linux/arm64']}: its image {address}/o/app@{amd64} holds linux/amd64, not " in err
    )
    assert "re-run the shard job for linux/arm64 of target app" in err
    assert "nothing was written, every tag is untouched" in err
    assert imagetools == [] and not any(r.startswith("PUT") for r in reg.requests)
    assert report["exit_code"] == 3 and report["mode"] == "merge" and "split" not in report


def test_a_shard_image_deleted_before_the_merge_is_exit_3_naming_the_shard(
    tmp_path: Path, registry: tuple[bakestub.Registry, str]
) -> None:
    reg, address = registry
    amd64 = push_image(reg, "o/app", "linux/amd64")
    gone = "sha256:" + "d" * 64  # what the arm64 shard pushed, deleted since
    files = shard_files(
        tmp_path / "digests",
        address,
        {"linux/amd64": f"{address}/o/app@{amd64}", "linux/arm64": f"{address}/o/app@{gone}"},
    )
    code, err, _report, imagetools = merged(tmp_path, tmp_path / "digests")
    assert code == 3, err
    assert f"{files['linux/arm64']}: its image {address}/o/app@{gone} is not in the registry" in err
    assert "re-run the shard job for linux/arm64 of target app" in err
    assert imagetools == [] and not any(r.startswith("PUT") for r in reg.requests)


def test_every_shard_is_checked_before_anything_is_written(
    tmp_path: Path, registry: tuple[bakestub.Registry, str]
) -> None:
    """A whole target beside one whose shard is missing: neither is written."""
    reg, address = registry
    amd64 = push_image(reg, "o/app", "linux/amd64")
    arm64 = push_image(reg, "o/app", "linux/arm64")
    folder = tmp_path / "digests"
    shard_files(
        folder,
        address,
        {"linux/amd64": f"{address}/o/app@{amd64}", "linux/arm64": f"{address}/o/app@{arm64}"},
    )
    other = json.loads((folder / "app-linux-amd64.json").read_text())
    other.update(target="api", refs=[f"{address}/o/api:v1"])
    (folder / "api-linux-amd64.json").write_text(json.dumps(other))  # api lacks linux/arm64
    code, err, _report, imagetools = merged(tmp_path, folder)
    assert code == 3, err
    assert "no shard pushed: api: linux/arm64" in err
    assert imagetools == [] and not any(r.startswith("PUT") for r in reg.requests)
