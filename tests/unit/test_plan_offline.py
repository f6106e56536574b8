"""`bakeguard --guard-plan` without docker, on the definitions where the offline reading was
silently wrong or refused (issue 27), each rewritten as a small definition of ours: its target
lines are what real `bake --print` resolves (tests/data/bake-features/expected.json, recorded
from the stack's buildx)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakeguard.commands.plan import NAMELESS
from tests.bakecompare import FEATURES, Invocation, Summary, expected, invocations

ALL = {i.id: i for i in invocations(FEATURES)}
RECORDED = expected(FEATURES)
# each a definition of ours (tests/data/bake-features) with the construct a real public
# definition showed the old reading getting wrong or refusing (named after the construct)
FINDINGS = {
    # --push keeps local/cacheonly outputs: nothing pushed
    "local-outputs release --push": "local outputs, inherited",
    "local-outputs --push": "local and cacheonly outputs",
    "local-outputs artifact-all --push": "type=local output, inherited",
    "outputs --push": "every output type",
    # targets pulled in by target: contexts are planned
    "context-targets go-cross-with-contexts --push": "target: contexts, nested",
    "context-targets lipo": "target: contexts",
    "contexts --push": "target: contexts",
    # compose among bake's default names
    "compose-only": "compose only",
    "compose-demo --push": "compose",
    "compose-and-hcl --push": "compose and HCL",
    "compose-notequal REGISTRY=localhost:5000/features/cn VERSION=v0.7.1 --push": "notequal",
    # a pushing target without a name
    "nameless --push": "nameless push",
    # conditionals, operators, attribute access, object matrices, functions
    "expressions --push": "expressions",
    "object-matrix lint --push": "object matrix",
    "matrix --push": "matrix and join()",
    "functions-semver LANG_VERSION=3.1,3.2 SHA=0123456789abcdef VERSION=v1.9.0 --push": "functions",
    "functions-sets PRODUCT_VERSION=7.4 REGISTRY=localhost:5001 TAG=7.4.2 TARGETARCH=arm64 "
    "--push": "set functions",
    # top-level `name = value` in an override file or a JSON definition
    "overrides SUFFIX=env -f docker-bake.hcl -f docker-bake.override.hcl --push": "top-level attr",
    "json-attribute --push": "JSON attribute",
    "variables LABELS=a:1,b:2 REGISTRY=127.0.0.1:5000 "
    'RELEASE_JSON={"channel": "beta", "rc": 2} --push': "typed variables",
}


def target_lines(s: Summary) -> list[str]:
    out = []
    for name, t in sorted(s.items()):
        plats = ", ".join(t["platforms"]) or "(builder's native)"  # type: ignore[arg-type]
        names = ", ".join(t["names"])  # type: ignore[arg-type]
        push = (names or f"no name to push to (bake fails: {NAMELESS})") if t["push"] else "no push"
        out.append(f"target {name}: platforms {plats}; push: {push}")
    return out


def plan(inv: Invocation) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYTHONPATH")}
    env |= {"BAKEGUARD_PLAN_OFFLINE": "1", "BAKEGUARD_LOG_FORMAT": "console", **dict(inv.env)}
    return subprocess.run(
        [sys.executable, "-m", "bakeguard", "--guard-plan", *inv.args],
        cwd=inv.root / inv.entry,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("key", FINDINGS, ids=[f"{v}: {k}" for k, v in FINDINGS.items()])
def test_the_plan_lists_what_bake_resolves(key: str) -> None:
    res = plan(ALL[key])
    assert res.returncode == 0, res.stderr
    recorded = RECORDED[key]
    assert isinstance(recorded, dict)
    got = [x for x in res.stdout.splitlines() if x.startswith("target ")]
    assert got == target_lines(recorded)


def test_a_nameless_push_is_named_as_the_build_failure_it_is() -> None:
    res = plan(ALL["nameless --push"])
    assert (
        "warning: target nameless pushes without a name; bake's build fails with \"tag is "
        'needed when pushing to registry"' in res.stdout
    )


def test_an_unknown_function_is_refused_with_its_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "docker-bake.hcl").write_text(
        'variable "X" {\n  default = "a"\n}\n'
        'target "default" {\n  tags = [X == "a" ? nosuch(X) : "r/b:1"]\n}\n'
    )
    res = plan(Invocation(tmp_path, ".", ()))
    assert res.returncode == 2
    assert "docker-bake.hcl:5: a call to the function nosuch()" in res.stderr


def test_what_bake_refuses_is_refused_with_bakes_reason_file_and_line() -> None:
    res = plan(ALL["variables CHANNEL=nightly"])
    assert res.returncode == 2
    assert "docker-bake.hcl:36: Validation failed: CHANNEL must be stable, beta or edge." in (
        res.stderr
    )
