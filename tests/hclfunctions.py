"""bake's function library, case by case: tests/data/hcl-functions.json holds expressions (the
examples of buildx's docs/bake-stdlib.md for every function bake documents, and more) with
the value real `docker buildx bake --print` gave for `jsonencode(EXPR)`, or that bake failed.

    python -m tests.hclfunctions --record    # on the stack: re-run every case through bake

The unit test (tests/unit/test_hcl_functions.py) evaluates each case offline against the
recorded value; the stack test (tests/stack/test_plan_offline.py) checks the recording
against the real bake, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypedDict

from tests.helpers import bake

TABLE = Path(__file__).parent / "data" / "hcl-functions.json"
# functions the offline reading refuses by name (the reason is in bakeguard/hcl/funcs_misc.py)
REFUSED = ("bcrypt", "rsadecrypt", "byteslen", "bytesslice")


class Case(TypedDict, total=False):
    function: str
    expr: str
    source: str
    bake: str  # jsonencode(EXPR) as bake printed it
    error: str  # or: bake's error for it


def cases() -> list[Case]:
    loaded: list[Case] = json.loads(TABLE.read_text())
    return loaded


def definition(exprs: Sequence[str]) -> str:
    """One target per expression; its value lands in `target`, which bake prints unescaped."""
    return "".join(
        f'target "c{i}" {{\n  target = jsonencode({e})\n}}\n' for i, e in enumerate(exprs)
    )


def run_bake(exprs: Sequence[str], env: Mapping[str, str]) -> list[str] | str:
    """Each expression's printed value, or bake's error when any of them fails."""
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "docker-bake.hcl").write_text(definition(exprs))
        names = [f"c{i}" for i in range(len(exprs))]
        res = bake(["--print", *names], env, Path(d))
    if res.returncode != 0:
        return (res.stderr.strip().splitlines() or ["?"])[-1]
    targets = json.loads(res.stdout)["target"]
    return [str(targets[n]["target"]) for n in names]


def record(env: Mapping[str, str]) -> list[Case]:
    out: list[Case] = []
    for c in cases():
        got = run_bake([c["expr"]], env)
        entry: Case = {"function": c["function"], "expr": c["expr"]}
        if "source" in c:
            entry["source"] = c["source"]
        if isinstance(got, str):
            entry["error"] = got
        else:
            entry["bake"] = got[0]
        out.append(entry)
    return out


def main() -> int:
    from tests.helpers import load_stack

    found, why = load_stack()
    if found is None or "--record" not in sys.argv:
        print(why or __doc__, file=sys.stderr)
        return 1
    table = record(found.buildx("newest"))
    TABLE.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(table)} cases, {sum('error' in c for c in table)} where bake fails")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
