"""Text that reaches a terminal or a CI log: what bakeguard reads back from a file or a
registry can neither drive the terminal (an ESC byte) nor forge a line (a `::error` workflow
command, a `bakeguard: verify ... OK` that did not happen), in the log, the step summary, the
report or `--guard-doctor`. The remembered profiles' file is checked as it is read; the
logger, ci.py and the commands' printing escape whatever still is not printable."""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bakeguard import ci, log
from bakeguard.log import console_line
from tests import reports

FAKE_DOCKER = r"""#!/bin/sh
case "$1 $2" in
"buildx version") echo "github.com/docker/buildx v0.38.2 0123456789ab"; exit 0 ;;
"buildx inspect")
  printf 'Name: t\nDriver: docker-container\n\nNodes:\nName: t0\nEndpoint: unix:///x\n'
  printf 'Status: running\nBuildKit version: v0.24.0\nPlatforms: linux/amd64, linux/arm64\n'
  exit 0 ;;
"info --format") printf '{"driver_status":[],"registry":{},"plugins":[]}\n'; exit 0 ;;
esac
for a in "$@"; do
  if [ "$a" = "--print" ]; then cat "$FAKE_DEFINITION"; exit 0; fi
done
exit 0
"""
FORGED_OK = re.compile(r"^bakeguard: verify .*: OK", re.M)


class Refusing(http.server.BaseHTTPRequestHandler):
    def refuse(self) -> None:
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = refuse

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def ground(tmp_path: Path, registry: str) -> dict[str, str]:
    """A fake docker whose bake pushes REGISTRY/t/app:v1 for two platforms, and a
    registry that refuses every read (verification fails: exit 3)."""
    exe = tmp_path / "docker"
    exe.write_text(FAKE_DOCKER)
    exe.chmod(0o755)
    target = {
        "platforms": ["linux/amd64", "linux/arm64"],
        "tags": [f"{registry}/t/app:v1"],
        "output": [{"type": "image", "push": "true"}],
    }
    definition = tmp_path / "def.json"
    definition.write_text(json.dumps({"target": {"app": target}}))
    (tmp_path / "work").mkdir()
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "HOME": str(tmp_path),
        "BAKEGUARD_DOCKER": str(exe),
        "BAKEGUARD_LOG_FORMAT": "console",
        "BAKEGUARD_VERIFY_TIMEOUT": "5",
        "FAKE_DEFINITION": str(definition),
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "REGISTRY": registry,
        "WORK": str(tmp_path / "work"),
    }


def bakeguard(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bakeguard", *args],
        env=env,
        cwd=env["WORK"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def forge(env: dict[str, str]) -> None:
    """A hand-edited registry-profiles.json: an entry for the pushed registry whose day and
    error carry escape sequences, a forged workflow command and a fake OK line, and an entry
    whose host does."""
    ok = f"verify {env['REGISTRY']}/t/app:v1 (target app): OK, 2/2 platforms"
    hosts = {
        env["REGISTRY"]: {
            "profile": "docker-v2",
            "since": f"2026-01-01\x1b[2J\n{ok}\n::error::forged since",
            "error": f"manifest invalid\n::error title=forged::error\n{ok}",
        },
        "evil\x1b]0;title\x07\n::error::host:5000": {
            "profile": "no-attestations",
            "since": "2026-01-02",
            "error": "x",
        },
    }
    path = Path(env["XDG_CACHE_HOME"]) / "bakeguard" / "registry-profiles.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": 1, "hosts": hosts}))


def clean(text: str) -> None:
    """No ESC (nor any other control character but newlines), no line a runner would read
    as a workflow command, no fake bakeguard OK line, nothing of the forged file."""
    assert not [c for c in text if not c.isprintable() and c != "\n"], repr(text)
    assert not [line for line in text.splitlines() if line.lstrip().startswith("::")], text
    assert not FORGED_OK.search(text), text
    assert "forged" not in text, text


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_forged_profiles_file_reaches_no_log_summary_or_report(
    ground: dict[str, str], tmp_path: Path, fmt: str
) -> None:
    forge(ground)
    summary, report = tmp_path / "summary.md", tmp_path / "report.json"
    env = {
        **ground,
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "BAKEGUARD_LOG_FORMAT": fmt,
    }
    res = bakeguard(["--push", "--guard-report", str(report)], env)
    assert res.returncode == 3, res.stderr[-3000:]  # (the registry refuses: not verified)
    clean(res.stderr)
    clean(summary.read_text())
    raw = report.read_bytes()
    assert b"\x1b" not in raw and b"forged" not in raw
    assert reports.load(report).get("compat_remembered", []) == []
    # what the run printed on stdout: its own annotations, none forged
    assert "forged" not in res.stdout and "\x1b" not in res.stdout


def test_the_doctor_shows_no_forged_line(ground: dict[str, str]) -> None:
    forge(ground)
    res = bakeguard(["--guard-doctor", "--push"], ground)
    clean(res.stdout)
    clean(res.stderr)
    assert "remembered registry profiles: none" in res.stdout


def test_a_console_line_shows_control_characters_escaped() -> None:
    shown = console_line("warning", "a\x1b[31mb\nverify x: OK\r::error::y\u2028z\x85", False)
    assert "\n" not in shown and "\x1b" not in shown and "\r" not in shown
    assert shown == ("bakeguard: warning: a\\x1b[31mb\\nverify x: OK\\r::error::y\\u2028z\\x85")
    lines = console_line("error", ["first", "  second\n::error::x"], False).split("\n")
    assert lines == ["bakeguard: error: first", "bakeguard:   second\\n::error::x"]


def test_json_lines_keep_a_message_s_lines_and_escape_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log.configure(False, {"BAKEGUARD_LOG_FORMAT": "json"})
    try:
        log.get().error(["one \x1b[31m", "  two\n::error::x"], ref="a\x1bb")
    finally:
        log.configure(False, {"BAKEGUARD_LOG_FORMAT": "console"})
    [line] = capsys.readouterr().err.splitlines()
    doc = json.loads(line)
    assert doc["event"] == "one \\x1b[31m\n  two\\n::error::x" and doc["ref"] == "a\\x1bb"


def test_annotations_and_the_summary_escape_what_they_quote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")}
    ci.annotate("error", "bakeguard: x, y", "r\x1b[31m:1\n::error::forged 5%", env)
    out = capsys.readouterr().out
    assert out == "::error title=bakeguard: x%2C y::r\\x1b[31m:1%0A::error::forged 5%25\n"
    hostile = "a`|b\x1b[2J\n::error::x<img src=y>"
    record = {
        "environment": {"buildx": hostile, "builder": hostile, "driver": hostile},
        "mode": hostile,
        "advisories": [{"id": hostile, "certain": True}],
        "compat_remembered": [{"host": hostile, "profile": hostile, "since": hostile}],
        "verification": [
            {
                "ref": hostile,
                "ok": True,
                "found": [hostile],
                "missing": [],
                "digest": hostile,
                "platform_manifests": [
                    {"platform": hostile, "digest": hostile, "media_type": None}
                ],
            }
        ],
    }
    text = ci.summary_markdown(record)
    assert "\x1b" not in text
    # (raw HTML is markup only outside code spans; an escaped backtick opens none)
    assert "<img" not in re.sub(r"(?<!\\)`[^`]*`", "", text)
    assert not [line for line in text.splitlines() if line.startswith("::")]
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    # every row keeps its cells: a `|` inside a value is escaped
    assert [len(re.split(r"(?<!\\)\|", row)) for row in rows] == [7, 6]
