"""The demo's three runs of bakeguard on scripts/example/ (see scripts/demo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.front import Front, Modes  # noqa: E402  (the msr-like registry front)


def run(title: str, label: str, registry: str, *args: str) -> dict[str, object]:
    configs = Path(os.environ["BAKEGUARD_STACK_CONFIGS"])
    tag = f"demo-{int(time.time() * 1000)}"
    report = Path(tempfile.mkdtemp()) / "report.json"
    env = {
        **os.environ,
        "DOCKER_CONFIG": str(configs / label),
        "REGISTRY": registry,
        "TAG": tag,
        "BAKEGUARD_PROBE_TTL": "0",
    }
    argv = [sys.executable, "-m", "bakeguard", "--push", "--guard-report", str(report), *args]
    print(
        f"\n=== {title}\n$ bakeguard --push {' '.join(args)}   (buildx {label}, {registry})",
        flush=True,
    )
    code = subprocess.run(argv, env=env, cwd=ROOT / "scripts" / "example").returncode
    doc = json.loads(report.read_text()) if report.exists() else {}
    return {"title": title, "code": code, "report": doc}


def line(r: dict[str, object]) -> str:
    doc = r["report"]
    assert isinstance(doc, dict)
    adv = ", ".join(a["id"] for a in doc.get("advisories", [])) or "none"
    ver = doc.get("verification") or []
    if ver:
        v = ver[0]
        found = f"{len(v['found'])}/{len(v['expected'])} platforms"
        what = "verified" if v["ok"] else f"verification FAILED, missing {', '.join(v['missing'])}"
    else:
        found, what = "-", "not verified"
    return (
        f"{r['title']}\n     exit {r['code']}; advisories: {adv}; mode: {doc.get('mode', '?')}; "
        f"{what} ({found})"
    )


def main() -> int:
    front = Front.start(os.environ["BAKEGUARD_STACK_REGISTRY"], range(5100, 5140))
    front.modes = Modes(msr=True)
    msr = f"localhost:{front.port}"
    newest = os.environ["BAKEGUARD_STACK_NEWEST"]
    try:
        results = [
            run(
                "1. buildx v0.21.1, registry like buildx#3070 (MSR), --guard-split=never",
                "v0.21.1",
                msr,
                "--guard-split=never",
            ),
            run("2. buildx v0.21.1, same registry, bakeguard's defaults", "v0.21.1", msr),
            run(
                f"3. buildx {newest}, plain registry, bakeguard's defaults",
                newest,
                "localhost:5000",
            ),
        ]
    finally:
        front.stop()
    print("\n" + "=" * 78 + "\nbakeguard demo summary\n" + "=" * 78)
    for r in results:
        print(line(r))
    expected = [3, 0, 0]
    ok = [r["code"] for r in results] == expected
    print("=" * 78)
    print(
        "as expected: the partial tag is caught (1), worked around (2), and a fixed buildx "
        "needs nothing (3)"
        if ok
        else f"UNEXPECTED exit codes (want {expected})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
