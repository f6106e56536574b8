"""The JSON report (`--guard-report FILE`, `-` for stdout). Schema `bakeguard-report/1`:

  schema, bakeguard (version), guard (policy), mode (plain | split | compat | platforms |
  shard | verify-only | merge),
  environment {buildx, buildx_raw, builder, driver, nodes, containerd_store},
  advisories [{id, certain, unknown}], split [{target, platforms, sources, refs, by_digest,
  index_written_by (bakeguard | imagetools)}],
  compat_detected [{host, profile, retry (succeeded | failed)}],
  verification [{target, ref, ok, expected, found, missing, extra, digest, expected_digest,
  media_type, missing_children, error, unreachable, status, auth (no-credentials | refused |
  forbidden | null), fix}],
  tags [{target, ref, state (present | missing | absent | untouched | unreadable), expected,
  found, missing, digest, digest_before, error}] (when a push was asked and did not end well),
  bake_exit_code, exit_code.
Keys are only ever added within a schema version.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from bakeguard.probe import Environment

SCHEMA = "bakeguard-report/1"


def environment(env: Environment) -> dict[str, Any]:
    b = env.builder
    return {
        "buildx": str(env.buildx.version) if env.buildx.version else None,
        "buildx_raw": env.buildx.raw,
        "buildx_flavor": env.buildx.flavor,
        "builder": b.name if b else None,
        "driver": env.driver,
        "nodes": [
            {"name": n.name, "buildkit": n.buildkit, "platforms": list(n.platforms)}
            for n in (b.nodes if b else ())
        ],
        "containerd_store": env.containerd_store,
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
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    with open(path, "w") as f:
        f.write(text)
