"""When `bake --print` does not give the definition (#23, poor messages): a failed `bake --print`
is said at warning level (nothing will be verified, and why) where it used to be a debug
line, and a Ctrl-C while it runs says that nothing was built, exits 130, stops it and writes
the report (it used to exit 130 without a word or a report)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests import reports
from tests.unit import bakestub

PRINT_ERROR = "#0 building with stub\nERROR: failed to parse docker-bake.hcl: boom\n"


@pytest.mark.parametrize(
    ("buildx", "driver", "said"),
    [
        # nothing can apply: bake starts at once, the definition was to come beside it
        ("v0.38.2", "docker-container", "bake ran as asked and nothing was verified"),
        # an advisory may apply: the definition is awaited before bake
        ("v0.21.1", "docker", "running bake as asked, without the guard; nothing will be"),
    ],
)
def test_a_failed_print_is_a_warning_saying_nothing_is_verified_and_why(
    tmp_path: Path, buildx: str, driver: str, said: str
) -> None:
    env = bakestub.environment(
        tmp_path,
        STUB_BUILDX=buildx,
        STUB_DRIVER=driver,
        STUB_PRINT_EXIT="1",
        STUB_PRINT_STDERR=PRINT_ERROR,
        STUB_DEFINITION="/nonexistent",
    )
    for _ in range(2):  # the second run takes the fast path where it can
        res = bakestub.bakeguard(["--push"], env, tmp_path)
        assert res.returncode == 0, res.stderr  # bake's own
        assert (
            "bakeguard: warning: `bake --print` failed (ERROR: failed to parse "
            "docker-bake.hcl: boom): bakeguard cannot tell what this build pushes" in res.stderr
        )
        assert said in res.stderr


def test_ctrl_c_during_bake_print_says_nothing_was_built_and_writes_the_report(
    tmp_path: Path,
) -> None:
    (tmp_path / "def.json").write_text(bakestub.definition(["127.0.0.1:9/o/app:v1"]))
    env = bakestub.environment(  # (an advisory may apply: bake waits for the definition)
        tmp_path,
        STUB_PRINT_SLEEP="60",
        STUB_DEFINITION=str(tmp_path / "def.json"),
        STUB_BUILDX="v0.21.1",
        STUB_DRIVER="docker",
    )
    report = tmp_path / "report.json"
    p = subprocess.Popen(
        [sys.executable, "-m", "bakeguard", "--push", f"--guard-report={report}"],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    # `bake --print` has started (and sleeps), and so has the probe: bakeguard is in its run
    while not (bakestub.bakes(env)[0] and any("probe" in c for c in bakestub.calls(env))):
        assert time.monotonic() < deadline and p.poll() is None, p.communicate()
        time.sleep(0.05)
    (printing,) = bakestub.bakes(env)[0]
    p.send_signal(signal.SIGINT)  # to bakeguard alone, as `kill -INT` would
    _out, err = p.communicate(timeout=20)
    assert p.returncode == 130, err
    assert "interrupted before bake started (while reading the builder and the bake " in err
    assert "nothing was built or pushed, every tag is untouched" in err
    assert "Traceback" not in err
    doc = reports.load(report)
    assert doc["exit_code"] == 130 and "bake_exit_code" not in doc
    assert bakestub.bakes(env)[1] == []  # no build started
    # the `bake --print` is stopped, not left behind (a zombie until something reaps it)
    state = Path(f"/proc/{printing['pid']}/stat")
    assert not state.exists() or state.read_text().rsplit(")", 1)[1].split()[0] == "Z"


class Awaited:
    """A definition that never comes; `waiting` is set once it is waited for. (It sleeps
    rather than wait on a lock: an exception a signal handler raises inside a lock's wait
    can leave that lock held, CPython's bpo-29988.)"""

    def __init__(self) -> None:
        self.waiting = threading.Event()

    def result(self) -> tuple[None, str]:
        self.waiting.set()
        while True:
            time.sleep(0.01)


def test_ctrl_c_while_the_definition_is_awaited_after_bake_says_nothing_was_verified(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Nothing could apply, so bake ran at once with `bake --print` beside it; bake is done
    and the run waits for the definition to verify the push: a Ctrl-C there used to leave
    silently, without a report."""
    from bakeguard import log, options
    from bakeguard.commands.build import after_bake
    from bakeguard.docker import Docker
    from bakeguard.interrupts import Interrupted
    from bakeguard.probe import EngineInfo, Environment
    from bakeguard.session import Session, finishing
    from bakeguard.tasks import Task
    from bakeguard.terminal import Tail
    from bakeguard.versions import parse_buildx_version

    report = tmp_path / "report.json"
    opts, bake = options.parse(["--push", f"--guard-report={report}"])
    log.configure(False)
    session = Session(opts, bake, Docker("/nonexistent/docker"), environ={})
    env = Environment(
        parse_buildx_version("github.com/docker/buildx v0.38.2 0"), None, EngineInfo(None)
    )
    definition = Awaited()

    def interrupt() -> None:
        assert definition.waiting.wait(20)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(Interrupted) as stopped:
        try:
            finishing(
                session,
                lambda: after_bake(session, 0, definition, Task.of(env), Tail(), "/nonexistent"),  # type: ignore[arg-type]
            )
        except KeyboardInterrupt:
            pytest.fail("the Ctrl-C left as a bare KeyboardInterrupt: no word, no report")
    assert stopped.value.code == 130
    err = capfd.readouterr().err
    assert "interrupted after bake exited 0, while reading the bake definition to verify " in err
    assert "nothing was verified" in err
    doc = reports.load(report)
    assert (doc["exit_code"], doc["bake_exit_code"]) == (130, 0)
