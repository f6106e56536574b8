"""The users' side on the real stack: CI annotations and summary, JSON logs, the demo."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.front import Front
from tests.helpers import ROOT, Stack, bakeguard, unique_repo


def test_github_actions_annotations_and_step_summary(
    stack: Stack, project: Path, front: Callable[..., Front], tmp_path: Path
) -> None:
    f = front(msr=True)
    tag = f"localhost:{f.port}/{unique_repo('gha')}/app:v1"
    summary = tmp_path / "summary.md"
    env = stack.buildx(
        "v0.21.1",
        TAG=tag,
        GITHUB_ACTIONS="true",
        GITHUB_STEP_SUMMARY=str(summary),
        BAKEGUARD_PROBE_TTL="0",
    )
    res = bakeguard(["--push", "--guard-split=never"], env, project)
    assert res.returncode == 3
    assert "::warning title=bakeguard: docker-driver-double-push::" in res.stdout
    assert "::error title=bakeguard: verification failed::" in res.stdout
    assert "missing linux/arm64, linux/arm/v7" in res.stdout
    text = summary.read_text()
    assert f"| `{tag}` | ❌ FAILED |" in text and "docker-driver-double-push" in text


def test_json_logs_in_ci(stack: Stack, project: Path) -> None:
    tag = f"localhost:5000/{unique_repo('json')}/app:v1"
    env = {**stack.buildx("newest", TAG=tag), "CI": "true"}
    env.pop("BAKEGUARD_LOG_FORMAT")
    res = bakeguard(["--push", "--progress=quiet"], env, project)
    assert res.returncode == 0, res.stderr
    ours = [json.loads(line) for line in res.stderr.splitlines() if line.startswith("{")]
    assert ours and all(r["logger"] == "bakeguard" for r in ours)
    assert any("OK, 3/3" in r["event"] for r in ours)


def test_demo_end_to_end(stack: Stack) -> None:
    res = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo")],
        env=dict(stack.env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = res.stdout
    assert res.returncode == 0, out[-3000:] + res.stderr[-3000:]
    summary = out[out.index("bakeguard demo summary") :]
    assert "exit 3" in summary and "missing linux/arm64, linux/arm/v7" in summary
    assert "mode: split; verified (3/3 platforms)" in summary
    assert "advisories: none; mode: plain; verified (3/3 platforms)" in summary
    assert "as expected" in summary
