"""The offline plan's references, checked against the real `docker buildx bake --print` of the
stack's newest buildx: what expected.json recorded for every invocation of the feature suite
and, when it is present (BAKEGUARD_BAKE_CORPUS or ../shared/bake-corpus), of the bake corpus,
and the function table's values (the unit tests compare the offline reading with these
recordings). Then `--guard-plan` with docker and without it, side by side."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bakecompare import Invocation, expected, invocations, offline, outcome, real, suites
from tests.hclfunctions import cases, run_bake
from tests.helpers import Stack, bakeguard

SUITES = suites()  # the corpus part only when the corpus is present (third-party files)
INVOCATIONS = [i for root, index in SUITES.values() for i in invocations(root, index)]
RECORDED = {k: v for root, _ in SUITES.values() for k, v in expected(root).items()}


@pytest.mark.parametrize("inv", INVOCATIONS, ids=[i.id for i in INVOCATIONS])
def test_the_recording_is_what_bake_prints(stack: Stack, inv: Invocation) -> None:
    live = real(inv, stack.buildx("newest"))
    if inv.refuse:  # bake's own answer varies from run to run here: the plan refuses
        assert isinstance(live, dict)
        return
    assert live == RECORDED[inv.id]
    what, detail = outcome(live, offline(inv, {}))
    assert what != "wrong", detail


def test_the_function_table_is_what_bake_evaluates(stack: Stack) -> None:
    env = stack.buildx("newest")
    table = cases()
    good = [c for c in table if "bake" in c]
    assert run_bake([c["expr"] for c in good], env) == [c["bake"] for c in good]

    def error(text: str | list[str]) -> str:
        # (bake's "Did you mean ...?" for an unknown function is one of the close names, at random)
        return re.sub(r' Did you mean "[^"]*"\?', "", str(text))

    for c in table:
        if "error" in c:
            assert error(run_bake([c["expr"]], env)) == error(c["error"]), c["expr"]


@pytest.mark.parametrize(
    "key",
    ["context-targets go-cross-with-contexts --push", "nameless --push", "compose-only --push"],
)
def test_plan_with_and_without_docker_agree(stack: Stack, key: str, tmp_path: Path) -> None:
    inv = next(i for i in INVOCATIONS if i.id == key)
    env = {**stack.buildx("newest"), **dict(inv.env)}
    cwd = inv.root / inv.entry
    real_plan = bakeguard(["--guard-plan", *inv.args], env, cwd)
    offline_plan = bakeguard(
        ["--guard-plan", *inv.args], {**env, "BAKEGUARD_PLAN_OFFLINE": "1"}, cwd
    )
    assert real_plan.returncode == 0 and offline_plan.returncode == 0, offline_plan.stderr

    def targets(out: str) -> list[str]:
        return [x for x in out.splitlines() if x.startswith(("target ", "warning: target"))]

    assert targets(real_plan.stdout) == targets(offline_plan.stdout) != []
