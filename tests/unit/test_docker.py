"""Which binary bakeguard's buildx calls run, and with what environment."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bakeguard import locator
from bakeguard.docker import Docker


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, str]:
    """An ELF `docker` (a copy of /bin/true) whose plugin the locator remembered."""
    docker = tmp_path / "bin" / "docker"
    docker.parent.mkdir()
    shutil.copy("/bin/true", docker)
    plugins = tmp_path / "config" / "cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-buildx").write_text("#!/bin/sh\n")
    (plugins / "docker-buildx").chmod(0o755)
    env = {
        "DOCKER_CONFIG": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PATH": "/bin",
        "OTEL_RESOURCE_ATTRIBUTES": "team=a",
    }
    assert locator.remember(str(docker), str(plugins / "docker-buildx"), env, search=[])
    return {**env, "docker": str(docker), "plugin": str(plugins / "docker-buildx")}


def test_buildx_calls_run_the_plugin_as_the_docker_cli_does(setup: dict[str, str]) -> None:
    d = Docker(setup["docker"], env={k: v for k, v in setup.items() if k.isupper()})
    argv, env = d._argv(["buildx", "bake", "--push"], {"EXTRA": "1"}, (), direct=True)
    assert argv == (setup["plugin"], "buildx", "bake", "--push")
    assert env is not None
    assert env[locator.PLUGIN_MARK] == "docker"
    # the CLI appends its attribute to the user's own
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == "team=a,docker.cli.cobra.command_path=docker%20buildx"
    assert env["EXTRA"] == "1"


def test_other_commands_and_the_probe_go_through_docker(setup: dict[str, str]) -> None:
    d = Docker(setup["docker"], env={k: v for k, v in setup.items() if k.isupper()})
    assert d._argv(["image", "inspect", "x"], None, (), direct=True)[0][0] == setup["docker"]
    argv, env = d._argv(["buildx", "version"], None, (), direct=False)
    assert argv[0] == setup["docker"]
    assert env is not None and locator.PLUGIN_MARK not in env


def test_a_vanished_plugin_falls_back_to_docker(setup: dict[str, str]) -> None:
    os.unlink(setup["plugin"])
    d = Docker(setup["docker"], env={k: v for k, v in setup.items() if k.isupper()})
    assert d._argv(["buildx", "bake", "--print"], None, (), True)[0] == (
        setup["docker"],
        "buildx",
        "bake",
        "--print",
    )


def test_a_fed_command_reads_its_inputs_only_when_fed() -> None:
    d = Docker("/bin/sh", env={"PATH": "/bin:/usr/bin"})
    started = d.start_fed(lambda files: ["-c", 'cat "$0" "$1"; echo done', *files], 2)
    assert started is not None
    assert started.proc.poll() is None  # blocked on its first input
    res = started.feed(["a@sha256:1\n", "b@sha256:2\n"])
    assert res.ok and res.stdout == "a@sha256:1\nb@sha256:2\ndone\n"


def test_a_cancelled_fed_command_gets_nothing_and_is_gone(tmp_path: Path) -> None:
    d = Docker("/bin/sh", env={"PATH": "/bin:/usr/bin"})
    out = tmp_path / "out"
    started = d.start_fed(lambda files: ["-c", f'cat "$0" > {out}', *files], 1)
    assert started is not None
    started.cancel()
    assert started.proc.returncode is not None  # not left running
    assert not out.exists() or out.read_text() == ""  # it read nothing


def test_a_fed_command_gets_the_environment_asked_for() -> None:
    d = Docker("/bin/sh", env={"PATH": "/bin:/usr/bin"})
    started = d.start_fed(
        lambda files: ["-c", 'cat "$0"; echo " $GOGC"', *files], 1, {"GOGC": "400"}
    )
    assert started is not None
    assert started.feed(["x"]).stdout == "x 400\n"


def test_started_runs_while_the_command_runs(tmp_path: Path) -> None:
    """Work handed to `started` (the fast paths' background thread) begins once bake is
    running, not after it: here the command waits for what `started` creates."""
    flag = tmp_path / "flag"
    d = Docker("/bin/sh", env={"PATH": "/bin:/usr/bin"})
    wait = (
        f"i=0; while [ ! -e {flag} ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done; "
        f"[ -e {flag} ]"
    )
    code = d.run_attached(["-c", wait], started=flag.touch)
    assert code == 0


def test_helpers_get_a_higher_gc_target_unless_the_user_set_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GOGC", raising=False)
    d = Docker("/bin/sh", env=None)
    assert d.capture(["-c", 'echo "$GOGC"']).stdout == "400\n"
    fed = d.start_fed(lambda files: ["-c", 'cat "$0"; echo "$GOGC"', *files], 1)
    assert fed is not None and fed.feed([""]).stdout == "400\n"
    monkeypatch.setenv("GOGC", "100")
    assert d.capture(["-c", 'echo "$GOGC"']).stdout == "100\n"


def test_bake_runs_with_the_users_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOGC", raising=False)
    out = tmp_path / "env"
    d = Docker("/bin/sh", env=None)
    assert d.run_attached(["-c", f'echo "GOGC=$GOGC" > {out}']) == 0
    assert out.read_text() == "GOGC=\n"


@pytest.mark.parametrize("tee", [False, True])
def test_a_ctrl_c_just_as_bake_starts_still_reaches_bake(
    fake_docker: Path, monkeypatch: pytest.MonkeyPatch, tee: bool
) -> None:
    """SIGINT right after bake's process exists, before bakeguard would otherwise be ready to
    forward it: bake gets it and the run ends as interrupted (it used to raise out of reach,
    leaving bake running and bakeguard waiting ~10 s on its stderr)."""
    import signal
    import subprocess
    import time

    from bakeguard.interrupts import Interrupted

    real = subprocess.Popen
    started: list[subprocess.Popen[bytes]] = []

    def popen_then_ctrl_c(*a: object, **kw: object) -> subprocess.Popen[bytes]:
        p = real(*a, **kw)  # type: ignore[call-overload]
        started.append(p)
        os.kill(os.getpid(), signal.SIGINT)
        return p  # type: ignore[no-any-return]

    monkeypatch.setenv("FAKE_DOCKER_SLEEP", "30")
    monkeypatch.setattr("bakeguard.docker.subprocess.Popen", popen_then_ctrl_c)
    t0 = time.monotonic()
    with pytest.raises(Interrupted) as e:
        Docker(os.environ["BAKEGUARD_DOCKER"]).run_bake(
            ["app"], tee=(lambda _: None) if tee else None
        )
    assert e.value.code == 130 and time.monotonic() - t0 < 5
    assert started[0].poll() is not None  # bake got it: not left running for 30 s


@pytest.mark.parametrize(("signum", "code"), [(2, 130), (15, 143), (1, 129)])
def test_signals_raise_interrupted_within_signals_interrupt(signum: int, code: int) -> None:
    """What verification runs in: a signal raises Interrupted with its exit code where the
    main thread waits; the previous handlers are back afterwards."""
    import signal
    import time

    from bakeguard.interrupts import Interrupted, signals_interrupt

    before = signal.getsignal(signum)
    with pytest.raises(Interrupted) as e, signals_interrupt():
        os.kill(os.getpid(), signum)
        time.sleep(5)
    assert e.value.code == code
    assert signal.getsignal(signum) is before
