"""README's generated tables match the code and the advisory data (scripts/gendocs.py)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import gendocs  # noqa: E402


def test_readme_tables_are_in_sync() -> None:
    text = gendocs.README.read_text()
    assert gendocs.render(text) == text, "README drifted: run `python scripts/gendocs.py`"


def test_readme_commands_are_the_ci_commands() -> None:
    readme = gendocs.README.read_text()
    assert "scripts/demo" in readme and "scripts/test" in readme
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()
