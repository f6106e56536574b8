"""The documentation stays true: README's and docs/report.md's generated tables match the code
and data (scripts/gendocs.py), README keeps the two commands CI runs, and docs/architecture.md
names every module of the package and no module that does not exist."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import gendocs  # noqa: E402

PACKAGE = ROOT / "bakeguard"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def test_readme_tables_are_in_sync() -> None:
    text = gendocs.README.read_text()
    assert gendocs.render(text) == text, "README drifted: run `python scripts/gendocs.py`"


def test_report_keys_are_in_sync() -> None:
    text = gendocs.REPORT_DOC.read_text()
    assert gendocs.render_report(text) == text, (
        "docs/report.md drifted: run `python scripts/gendocs.py`"
    )


def test_readme_commands_are_the_ci_commands() -> None:
    readme = gendocs.README.read_text()
    assert "scripts/demo" in readme and "scripts/test" in readme
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_the_readme_is_a_users_page() -> None:
    # Development, architecture and bench tables live in docs/; the README stays short.
    assert len(gendocs.README.read_text().splitlines()) <= 250


def _modules() -> set[str]:
    return {
        p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"
    }


def test_the_architecture_names_every_module() -> None:
    named = set(re.findall(r"`([\w/]+\.py)`", ARCHITECTURE.read_text()))
    missing = sorted(_modules() - named)
    assert not missing, f"docs/architecture.md does not name {missing}"


def test_every_module_the_architecture_names_exists() -> None:
    modules = _modules()
    basenames = {m.rpartition("/")[2] for m in modules}
    text = ARCHITECTURE.read_text()
    # The tests and scripts it mentions are not the package's modules.
    named = {n for n in re.findall(r"\b([\w/]+\.py)\b", text) if not n.startswith("tests/")}
    gone = sorted(n for n in named if n not in modules and ("/" in n or n not in basenames))
    assert not gone, f"docs/architecture.md names modules that do not exist: {gone}"
