"""Reports in tests: every `bakeguard-report/1` a test makes is checked against the schema
shipped in the package, made strict here (no key it does not name, at any depth), so a key
bakeguard writes and the schema does not document fails the test that wrote it.

`load(path)` / `parse(text)` where a test reads a report; tests/conftest.py checks, after
each test, every report left under its tmp_path (`check_tree`), read or not."""

from __future__ import annotations

import copy
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from bakeguard import report


def strict(schema: Any) -> Any:
    """`schema` with additionalProperties false on every object it describes."""
    out = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node:
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(out)
    return out


@cache
def validator() -> Draft202012Validator:
    shipped = report.schema()
    Draft202012Validator.check_schema(shipped)
    return Draft202012Validator(strict(shipped))


def validate(doc: Any) -> None:
    """Raises jsonschema.ValidationError naming the first key or value out of the schema."""
    validator().validate(doc)


def parse(text: str) -> dict[str, Any]:
    doc = json.loads(text)
    validate(doc)
    assert isinstance(doc, dict)
    return doc


def load(path: Path) -> dict[str, Any]:
    return parse(path.read_text())


def check_tree(root: Path) -> list[Path]:
    """Every JSON file under root whose "schema" is bakeguard-report/1, validated; returns
    them. Other JSON (bake's metadata, digest files, docker configs) is left alone."""
    checked = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if not name.endswith(".json"):
                continue
            path = Path(folder, name)
            try:
                doc = json.loads(path.read_text())
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            if isinstance(doc, dict) and doc.get("schema") == report.SCHEMA:
                try:
                    validate(doc)
                except ValidationError as e:
                    raise AssertionError(f"{path} is not a valid {report.SCHEMA}: {e}") from e
                checked.append(path)
    return checked
