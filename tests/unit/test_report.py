"""The report's schema, shipped in the package: it documents every key bakeguard writes (the
tests' strict variant refuses any other), and it lets a consumer read a newer report of the
same version (the shipped one allows keys it does not name)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError

from bakeguard import __version__, report
from bakeguard.learned import Learned
from bakeguard.probe import Builder, EngineInfo, Environment, Node
from bakeguard.registry import tagstate
from bakeguard.registry.entries import Attestation, PlatformManifest
from bakeguard.registry.verify import Outcome
from bakeguard.split.assemble import split_entry
from bakeguard.versions import parse_buildx_version
from tests import reports

ROOT = Path(__file__).resolve().parent.parent.parent
M = "application/vnd.oci.image.manifest.v1+json"


def full_report() -> dict[str, Any]:
    """A report with every part filled in, each made by the code that makes it in a run."""
    env = Environment(
        parse_buildx_version("github.com/docker/buildx v0.22.0 18ccba0"),
        Builder(
            "ci",
            "docker-container",
            (Node("ci0", "unix://", "running", "v0.20.1", ("linux/amd64",)),),
        ),
        EngineInfo(None),
    )
    outcome = Outcome(
        "app",
        "reg.example/o/app:v1",
        ("linux/amd64",),
        found=("linux/amd64",),
        digest="sha256:idx",
        expected_digest="sha256:idx",
        media_type="application/vnd.oci.image.index.v1+json",
        platform_manifests=(PlatformManifest("linux/amd64", "sha256:aa", M, 480),),
        attestations=(Attestation("sha256:at", M, 840, "sha256:aa", "linux/amd64"),),
    )
    t: Any = SimpleNamespace(name="app", tag_refs=("reg.example/o/app:v1",))
    return {
        "schema": report.SCHEMA,
        "bakeguard": __version__,
        "guard": "auto",
        "mode": "split",
        "fast_path": False,
        "environment": report.environment(env),
        "advisories": [{"id": "docker-driver-double-push", "certain": True, "unknown": []}],
        "split": [
            split_entry(
                t.name, t.tag_refs, [("linux/amd64", "reg.example/o/app@sha256:aa")], True, "x"
            ),
            split_entry("merged", ["r/m:v1"], [("linux/amd64", "r/m@sha256:bb")], None, "x"),
        ],
        "compat_detected": [
            {"host": "reg.example", "profile": "docker", "retry": "succeeded", "remembered": True}
        ],
        "compat_remembered": [Learned("reg.example", "docker-v2", "2026-12-01", "400")._asdict()],
        "verification": [outcome.to_json()],
        "tags": [tagstate.entry(outcome, None)],
        "bake_exit_code": 0,
        "exit_code": 0,
    }


def test_the_schema_is_shipped_in_the_package_and_is_a_valid_json_schema() -> None:
    assert Path(report.SCHEMA_FILE).parent == Path(report.__file__).parent / "data"
    shipped = report.schema()
    Draft202012Validator.check_schema(shipped)
    assert shipped["properties"]["schema"]["const"] == report.SCHEMA
    assert "data/*.json" in (ROOT / "pyproject.toml").read_text()


def test_every_key_bakeguard_writes_is_in_the_schema() -> None:
    reports.validate(full_report())


@pytest.mark.parametrize(
    "where",
    [
        lambda d: d,
        lambda d: d["environment"],
        lambda d: d["split"][0]["platform_sources"][0],
        lambda d: d["verification"][0],
        lambda d: d["verification"][0]["platform_manifests"][0],
        lambda d: d["verification"][0]["attestations"][0],
        lambda d: d["tags"][0],
    ],
)
def test_an_undocumented_key_fails_the_tests_but_not_a_consumer(where: Any) -> None:
    """A key written without documenting it is caught at any depth by the tests' strict
    variant; the shipped schema accepts it (a newer report within version 1)."""
    doc = full_report()
    where(doc)["undocumented"] = 1
    with pytest.raises(ValidationError, match="undocumented"):
        reports.validate(doc)
    Draft202012Validator(report.schema()).validate(doc)


def test_a_wrong_type_fails_both() -> None:
    doc = full_report()
    doc["verification"][0]["platform_manifests"][0]["digest"] = None
    with pytest.raises(ValidationError):
        reports.validate(doc)
    with pytest.raises(ValidationError):
        Draft202012Validator(report.schema()).validate(doc)


def test_check_tree_validates_reports_and_leaves_other_json_alone(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text('{"app": {"containerimage.digest": "sha256:aa"}}')
    (tmp_path / "not.json").write_text("{")
    (tmp_path / "sub").mkdir()
    good = tmp_path / "sub" / "r.json"
    good.write_text(json.dumps(full_report()))
    assert reports.check_tree(tmp_path) == [good]
    doc = full_report()
    doc["verification"][0]["per_platform"] = []
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(AssertionError, match=r"bad\.json is not a valid bakeguard-report/1"):
        reports.check_tree(tmp_path)
    (tmp_path / "bad.json").unlink()  # (else this test's own check would fail it)


def test_a_test_that_leaves_an_undocumented_key_in_its_tmp_path_fails() -> None:
    """tests/conftest.py's check after each test: a test that writes such a report and
    never reads it still errors."""
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(Path(__file__).parent / "leaves_a_report.py"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert res.returncode == 1, res.stdout[-2000:]
    assert "1 passed, 1 error" in res.stdout, res.stdout[-2000:]
    assert "r.json is not a valid bakeguard-report/1" in res.stdout
    assert "'undocumented' was unexpected" in res.stdout


def test_the_advisory_listing_is_a_report_of_the_same_schema(tmp_path: Path) -> None:
    """`--guard-advisories --guard-report FILE` writes schema and the whole table only."""
    from bakeguard.commands.advisories import list_advisories

    path = tmp_path / "advisories.json"
    opts: Any = SimpleNamespace(report=str(path))
    assert list_advisories(opts, {}) == 0
    doc = reports.load(path)
    assert set(doc) == {"schema", "advisories"} and len(doc["advisories"]) >= 12
    del doc["advisories"]
    with pytest.raises(ValidationError):  # neither a run nor a listing
        reports.validate(doc)
