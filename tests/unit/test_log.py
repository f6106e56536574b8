"""bakeguard's own lines: `bakeguard:`-prefixed on a console, JSON objects (structlog) for CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bad_option(fmt: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / "src"), **extra}
    env["BAKEGUARD_LOG_FORMAT"] = fmt
    return subprocess.run(
        [sys.executable, "-m", "bakeguard", "--guard=sometimes"],
        env=env,
        capture_output=True,
        text=True,
    )


def test_console_lines() -> None:
    res = _bad_option("console")
    assert res.returncode == 2 and res.stdout == ""
    first, *rest = res.stderr.splitlines()
    assert first.startswith("bakeguard: error: ") and "sometimes" in first
    assert all(line.startswith("bakeguard:") for line in rest)  # every line of a paragraph
    assert "\x1b[" not in res.stderr  # not a terminal: no colour


@pytest.mark.parametrize("how", [{"BAKEGUARD_LOG_FORMAT": "json"}, {"GITHUB_ACTIONS": "true"}])
def test_json_lines(how: dict[str, str]) -> None:
    fmt = how.pop("BAKEGUARD_LOG_FORMAT", "")
    res = _bad_option(fmt, **how)
    assert res.returncode == 2
    docs = [json.loads(line) for line in res.stderr.splitlines()]
    assert docs and docs[0]["level"] == "error" and docs[0]["logger"] == "bakeguard"
    assert "sometimes" in docs[0]["event"] and docs[0]["timestamp"].endswith("Z")
