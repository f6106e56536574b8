"""Keeps the generated tables in sync with the code and data: README's options table
(bakeguard.options.GUARD_SPECS) and advisory table (bakeguard/data/advisories.toml), and
docs/report.md's keys (bakeguard/data/report.schema.json). `python scripts/gendocs.py`
rewrites both files; tests/unit/test_docs.py fails when either drifts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bakeguard import report  # noqa: E402
from bakeguard.advisories import load  # noqa: E402
from bakeguard.options import GUARD_SPECS  # noqa: E402

README = ROOT / "README.md"
REPORT_DOC = ROOT / "docs" / "report.md"


def options_table() -> str:
    rows = ["| flag | variable | values | default | what |", "|---|---|---|---|---|"]
    for s in GUARD_SPECS:
        values = (
            " \\| ".join(s.choices)
            if s.choices
            else ("true/false" if s.kind == "bool" else "VALUE")
        )
        rows.append(
            f"| `{s.flag}` | {f'`{s.env}`' if s.env else '-'} | {values} | "
            f"{f'`{s.default}`' if s.default else '-'} | {s.help} |"
        )
    return "\n".join(rows)


def advisory_table() -> str:
    rows = [
        "| id | level | affected buildx | when | fixed | bakeguard does | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in load({}):
        when = ", ".join(f"{k}={v}" for k, v in a.when.items()) or "-"
        refs = " ".join(f"[{i + 1}]({r})" for i, r in enumerate(a.references))
        rows.append(
            f"| `{a.id}` | {a.level} | `{a.affected}` | {when} | {a.fixed or '-'} | "
            f"{a.mitigation} | {refs} |"
        )
    return "\n".join(rows)


def _type(node: dict[str, Any]) -> str:
    if "const" in node:
        return f"`{node['const']}`"
    if node.get("type") == "array":
        return f"list of {_type(node['items'])}s"
    types = node.get("type")
    return " or ".join(types) if isinstance(types, list) else str(types)


def report_table() -> str:
    """Every key of the report's schema, nested keys as `parent[].key` / `parent.key`."""
    rows = ["| key | type | what |", "|---|---|---|"]

    def walk(props: dict[str, Any], prefix: str) -> None:
        for key, node in props.items():
            what = node.get("description", "").replace("|", "\\|")
            rows.append(f"| `{prefix}{key}` | {_type(node)} | {what} |")
            inner = node["items"] if node.get("type") == "array" else node
            if "properties" in inner:
                walk(inner["properties"], f"{prefix}{key}{'[]' if inner is not node else ''}.")

    walk(report.schema()["properties"], "")
    return "\n".join(rows)


def _fill(text: str, tables: dict[str, str]) -> str:
    for name, table in tables.items():
        start, end = f"<!-- {name}:start -->\n", f"\n<!-- {name}:end -->"
        i = text.find(start)
        j = text.find(end, i)
        if i < 0 or j < 0:
            raise SystemExit(f"the <!-- {name}:start/end --> markers are missing")
        text = text[: i + len(start)] + table + text[j:]
    return text


def render(text: str) -> str:
    """README.md with its tables regenerated."""
    return _fill(text, {"options": options_table(), "advisories": advisory_table()})


def render_report(text: str) -> str:
    """docs/report.md with its table regenerated."""
    return _fill(text, {"report": report_table()})


if __name__ == "__main__":
    README.write_text(render(README.read_text()))
    REPORT_DOC.write_text(render_report(REPORT_DOC.read_text()))
