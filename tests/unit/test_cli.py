"""The drop-in contract, with a fake docker: arguments reach bake untouched and in order,
bake's stdout/stderr/exit code come back unchanged, signals reach bake, bad bakeguard input
exits 2. (The same contract on the real stack: tests/stack/test_dropin.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bakeguard.cli import main
from tests import reports


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize(
    "argv",
    [
        ["app"],
        ["-f", "x.hcl", "--set", "*.tags=a", "--push", "t1", "t2"],
        ["--print"],
        ["--list=targets"],
        ["--call", "check", "app"],
        ["--", "--weird"],
        ["--future=1", "-Dj", "2"],
    ],
)
def test_guard_off_passes_arguments_untouched(fake_docker: Path, argv: list[str]) -> None:
    assert main(["--guard=off", *argv]) == 0
    assert calls(fake_docker) == [["buildx", "bake", *argv]]


@pytest.mark.parametrize("argv", [["--print"], ["--list", "targets"], ["--check"], ["-h"]])
def test_non_builds_pass_through_even_when_guarded(fake_docker: Path, argv: list[str]) -> None:
    assert main(argv) == 0
    assert calls(fake_docker) == [["buildx", "bake", *argv]]


@pytest.mark.parametrize("code", [0, 1, 17])
def test_exit_code_and_output_are_bakes(
    fake_docker: Path, code: int, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_DOCKER_EXIT", str(code))
    monkeypatch.setenv("FAKE_DOCKER_STDOUT", '{"target": {}}\n')
    monkeypatch.setenv("FAKE_DOCKER_STDERR", "ERROR: boom\n")
    assert main(["--guard=off", "app"]) == code
    out, err = capfd.readouterr()
    assert out == '{"target": {}}\n' and err == "ERROR: boom\n"


def test_bad_guard_value_exits_2_naming_the_choices(
    fake_docker: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["--guard=loud", "app"]) == 2
    err = capfd.readouterr().err
    assert "--guard" in err and "warn, auto, strict, off" in err
    assert calls(fake_docker) == []


def test_missing_docker_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("BAKEGUARD_DOCKER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["--guard=off", "app"]) == 127
    assert "BAKEGUARD_DOCKER" in capfd.readouterr().err


@pytest.mark.parametrize("guard", ["--guard=off", "--guard=warn"])
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signals_reach_bake_and_no_child_outlives(
    fake_docker: Path, tmp_path: Path, sig: int, code: int, guard: str
) -> None:
    """--guard=off execs bake (its own signal handling); a guarded run forwards the signal."""
    env = {**os.environ, "FAKE_DOCKER_SLEEP": "30", "XDG_CACHE_HOME": str(tmp_path)}
    p = subprocess.Popen(
        [sys.executable, "-m", "bakeguard", guard, "app"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    p.send_signal(sig)
    assert p.wait(timeout=20) == code
    assert ["signal", sig] in calls(fake_docker)
    out = subprocess.run(["pgrep", "-f", str(fake_docker.parent / "fake-bin")], capture_output=True)
    assert out.stdout == b""


@pytest.mark.parametrize(
    ("argv", "env", "execs"),
    [
        (["--guard=off", "app"], {}, ["app"]),
        (["--guard", "off", "--print"], {}, ["--print"]),
        (["app"], {"BAKEGUARD_GUARD": "off"}, ["app"]),
        (["app"], {"BAKEGUARD_GUARD": "off", "BAKEGUARD_STACK_DIR": "/x"}, ["app"]),
        (["--guard=off", "app"], {"BAKEGUARD_SPLIT": "bogus"}, None),
        (["--guard=off", "--guard-report", "r.json", "app"], {}, None),
        (["--guard=warn", "app"], {}, None),
        (["app"], {}, None),
        (["--guard=off", "--", "--guard-x"], {}, ["--", "--guard-x"]),
        (["--guard=off", "--guard-nosuch", "app"], {}, None),
        (["--guard=off", "app"], {"BAKEGUARD_PROBE_TTL": "5"}, ["app"]),
        (["--guard=off", "app"], {"BAKEGUARD_COMPAT_MEMORY": "false"}, ["app"]),
        (["--guard=off", "app"], {"BAKEGUARD_COMPAT_MEMORY": "sometimes"}, None),  # exit 2
    ],
)
def test_when_guard_off_execs(
    argv: list[str], env: dict[str, str], execs: list[str] | None
) -> None:
    from bakeguard.cli import _exec_args

    assert _exec_args(argv, env) == execs


def test_an_interrupt_in_the_fast_path_still_writes_the_report(
    fake_docker: Path, tmp_path: Path
) -> None:
    """A recent full run found nothing for this builder, so bake starts at once; Ctrl-C
    during it still leaves a --guard-report that says the run was interrupted."""
    from bakeguard import memo
    from bakeguard.bakeargs import parse_bake
    from bakeguard.docker import Docker

    env = {**os.environ, "FAKE_DOCKER_SLEEP": "30", "XDG_CACHE_HOME": str(tmp_path)}
    docker = Docker(str(fake_docker.parent / "fake-bin" / "docker"))
    memo.remember(docker, parse_bake(["app"]), env, clean=True)
    report = tmp_path / "r.json"
    p = subprocess.Popen(
        [sys.executable, "-m", "bakeguard", "--guard-report", str(report), "app"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=20) == 130
    doc = reports.load(report)
    assert doc["fast_path"] is True and doc["exit_code"] == 130
