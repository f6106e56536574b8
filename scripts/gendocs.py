"""Keeps README's generated tables in sync with the code and data:
the options table (bakeguard.options.GUARD_SPECS) and the advisory table
(bakeguard/data/advisories.toml). `python scripts/gendocs.py` rewrites README.md;
tests/unit/test_docs.py fails when README drifts."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bakeguard.advisories import load  # noqa: E402
from bakeguard.options import GUARD_SPECS  # noqa: E402

README = ROOT / "README.md"


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


def render(text: str) -> str:
    for name, table in (("options", options_table()), ("advisories", advisory_table())):
        start, end = f"<!-- {name}:start -->\n", f"\n<!-- {name}:end -->"
        i = text.find(start)
        j = text.find(end, i)
        if i < 0 or j < 0:
            raise SystemExit(f"README.md lacks the <!-- {name}:start/end --> markers")
        text = text[: i + len(start)] + table + text[j:]
    return text


if __name__ == "__main__":
    README.write_text(render(README.read_text()))
