"""The JSON report (`--guard-report FILE`, `-` for stdout), schema `bakeguard-report/1`.

Its keys and what each means: the JSON Schema shipped in the package, data/report.schema.json
(`SCHEMA_FILE`, `schema()`), which the tests check every report they make against. Keys are
only ever added within a schema version, so the schema allows keys it does not name: a
consumer validating against it keeps working with a newer bakeguard's reports.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from bakeguard.probe import Environment

SCHEMA = "bakeguard-report/1"
SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "data", "report.schema.json")


def schema() -> dict[str, Any]:
    """The JSON Schema of `SCHEMA` (draft 2020-12)."""
    with open(SCHEMA_FILE) as f:
        doc: dict[str, Any] = json.load(f)
    return doc


def environment(env: Environment) -> dict[str, Any]:
    from bakeguard import engines  # (not at the top: the fast path imports this module)

    b = env.builder
    nodes = b.nodes if b else ()
    return {
        "buildx": str(env.buildx.version) if env.buildx.version else None,
        "buildx_raw": env.buildx.raw,
        "buildx_flavor": env.buildx.flavor,
        "builder": b.name if b else None,
        "driver": env.driver,
        "nodes": [
            {
                "name": n.name,
                "buildkit": n.buildkit,
                "buildkit_known": known.version,
                "buildkit_source": known.source,
                "platforms": list(n.platforms),
            }
            for n, known in zip(nodes, engines.buildkits(env), strict=True)
        ],
        "containerd_store": env.containerd_store,
        "engine": env.engine.version,
    }


def read_object(path: str) -> Mapping[str, Any] | None:
    """A JSON object from a file (bake's metadata, a digests file), or None."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def write(path: str, data: Mapping[str, Any]) -> None:
    """The report, as JSON: a string in it holds any character as a JSON escape (json's
    ensure_ascii), so no control character of what it quotes reaches a terminal that
    shows the file."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    with open(path, "w") as f:
        f.write(text)
