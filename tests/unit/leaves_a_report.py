"""Not collected by itself (no test_ prefix): test_report.py runs it to show that a report
with an undocumented key, left in a test's tmp_path and never read, fails that test."""

from __future__ import annotations

import json
from pathlib import Path

from bakeguard import __version__, report


def test_writes_a_report_nobody_reads(tmp_path: Path) -> None:
    doc = {
        "schema": report.SCHEMA,
        "bakeguard": __version__,
        "guard": "auto",
        "exit_code": 0,
        "undocumented": True,
    }
    (tmp_path / "r.json").write_text(json.dumps(doc))
