"""The offline reading's refusals and errors: each names its cause with the file and line (or
the flag) it came from; what buildx alone can read is refused, never guessed; a damaged
grammar cache is a miss."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakeguard.hcl import HclError, Refusal, Request, read


def refusal(tmp_path: Path, written: dict[str, str], **req: object) -> Refusal:
    for name, text in written.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(Refusal) as caught:
        read(Request(environ={}, **req), tmp_path)  # type: ignore[arg-type]
    return caught.value


HCL, JSON = "docker-bake.hcl", "docker-bake.json"
CASES = {
    "hcl syntax": (HCL, 'target "a" {\n  tags = [\n}\n', f"{HCL}:3: not valid HCL"),
    "json syntax": (
        JSON,
        '{\n "target": {\n  "a": {"tags": [1,]}\n }\n}',
        f"{JSON}:3: not valid JSON",
    ),
    "json template": (
        JSON,
        '{"target": {\n"a": {"tags": ["${nosuch(1)}"]}}}',
        f"{JSON}:2: a call to the function nosuch()",
    ),
    "unknown variable": (
        HCL,
        'target "default" {\n  tags = [X]\n}\n',
        f"{HCL}:2: Unknown variable: there is no variable named 'X'",
    ),
    "heredoc": (
        HCL,
        'target "default" {\n  dockerfile-inline = <<EOT\nFROM ${upper(nope)}\nEOT\n}\n',
        f"{HCL}:3: Unknown variable",
    ),
    "cycle": (
        HCL,
        'variable "A" {\n  default = B\n}\nvariable "B" {\n  default = A\n}\ntarget "default" {}\n',
        "variable cycle not allowed",
    ),
    "inherits": (
        HCL,
        'variable "V" {}\ntarget "default" {\n  inherits = ["nosuch"]\n}\n',
        f"{HCL}:2 (inherits): failed to find target nosuch",
    ),
    "contexts": (
        HCL,
        'target "default" {\n  contexts = { a = "target:default" }\n}\n',
        f"{HCL}:1 (contexts): target default cannot link to itself",
    ),
    "name": (HCL, 'target "default" {\n  name = "x"\n}\n', f"{HCL}:2: name requires matrix"),
    "type": (
        HCL,
        'target "default" {\n  platforms = "linux/amd64"\n}\n',
        f"{HCL}:2: Unsuitable value for platforms",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_refusal_names_its_file_and_line(tmp_path: Path, case: str) -> None:
    name, text, expected = CASES[case]
    assert expected in str(refusal(tmp_path, {name: text}))


def test_what_only_buildx_reads_is_refused(tmp_path: Path) -> None:
    hcl = {"docker-bake.hcl": 'target "default" {}\n'}
    assert "stdin" in str(refusal(tmp_path, hcl, files=["-"]))
    remote = "https://github.com/docker/buildx.git"
    assert "remote bake definition" in str(refusal(tmp_path, hcl, targets=[remote]))
    assert "remote bake definition" in str(refusal(tmp_path, hcl, files=[remote]))


def test_set_errors_are_bakes_own(tmp_path: Path) -> None:
    hcl = {"docker-bake.hcl": 'target "default" {}\n'}
    err = refusal(tmp_path, hcl, sets=["nosuch.tags=x"])
    assert isinstance(err, HclError) and "could not find any target matching 'nosuch'" in str(err)
    err = refusal(tmp_path, hcl, sets=["default.resource.memory=1g"])
    assert not isinstance(err, HclError) and "--set of 'resource.memory'" in str(err)


def test_no_definition_is_bakes_own_error(tmp_path: Path) -> None:
    with pytest.raises(HclError, match="couldn't find a bake definition"):
        read(Request(environ={}), tmp_path)


def test_a_damaged_or_unwritable_grammar_cache_is_a_miss(tmp_path: Path) -> None:
    """Lark's tables are cached in ~/.cache/bakeguard/hcl; garbage there, or a cache folder
    that cannot be written, costs time, never the plan."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "docker-bake.hcl").write_text('target "default" {\n  tags = ["r/a:1"]\n}\n')
    damaged = tmp_path / "damaged"
    (damaged / "bakeguard" / "hcl").mkdir(parents=True)
    (damaged / "bakeguard" / "hcl" / "hcl2-lark.cache").write_bytes(b"\x80\x04garbage")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    for cache in (damaged, blocked):
        env = {**os.environ, "XDG_CACHE_HOME": str(cache), "BAKEGUARD_PLAN_OFFLINE": "1"}
        res = subprocess.run(
            [sys.executable, "-m", "bakeguard", "--guard-plan", "--push"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 0, res.stderr
        assert "target default: platforms (builder's native); push: r/a:1" in res.stdout
