"""bake's function library offline, case by case against the values real `docker buildx bake
--print` gave (tests/data/hcl-functions.json, recorded and re-checked on the stack by
tests/hclfunctions.py and tests/stack/test_plan_offline.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeguard.hcl import HclError, Refusal, Request, read
from bakeguard.hcl.library import NAMES
from tests.hclfunctions import REFUSED, Case, cases, definition

CASES = cases()


def offline(expr: str, where: Path) -> str:
    (where / "docker-bake.hcl").write_text(definition([expr]))
    doc = read(Request(targets=["c0"], environ={}), where)
    target = doc["target"]
    assert isinstance(target, dict)
    return str(target["c0"]["target"])


@pytest.mark.parametrize("case", CASES, ids=[f"{c['function']}: {c['expr'][:60]}" for c in CASES])
def test_function_as_bake_evaluates_it(case: Case, tmp_path: Path) -> None:
    if case["function"] in REFUSED and "error" not in case:
        with pytest.raises(Refusal, match=rf"{case['function']}\(\)"):
            offline(case["expr"], tmp_path)
        return
    if "error" in case:
        # bake fails on it: offline it fails too, as bake's own error (HclError), or as a
        # refusal naming the function bake does not know either / the offline reading skips
        with pytest.raises(Refusal) as caught:
            offline(case["expr"], tmp_path)
        unknown = "unknown function" in case["error"]
        if not unknown and case["function"] not in REFUSED:
            assert isinstance(caught.value, HclError), caught.value
        assert "docker-bake.hcl:2" in str(caught.value) or case["function"] in REFUSED
        return
    assert offline(case["expr"], tmp_path) == case["bake"]


def test_every_function_bake_documents_has_a_case_from_its_docs() -> None:
    documented = {c["function"] for c in CASES if c.get("source") == "docs"}
    assert NAMES - documented == set()  # (can/try/convert included)
    assert {c["function"] for c in CASES} <= {*NAMES, "syntax"}


def test_an_unknown_function_is_refused_by_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text(
        'variable "V" {\n  default = "1"\n}\ntarget "app" {\n  tags = ["r/app:${tostring(V)}"]\n}\n'
    )
    with pytest.raises(Refusal) as caught:
        read(Request(targets=["app"], environ={}), tmp_path)
    assert not isinstance(caught.value, HclError)  # bake may know it; we do not guess
    assert str(caught.value).startswith("docker-bake.hcl:5: a call to the function tostring()")
