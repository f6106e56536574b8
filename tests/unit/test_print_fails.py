"""When `bake --print` does not give the definition (#23, poor messages): a failed `bake --print`
is said at warning level (nothing will be verified, and why) where it used to be a debug
line, and a Ctrl-C while it runs says that nothing was built, exits 130, stops it and writes
the report (it used to exit 130 without a word or a report)."""

from __future__ import annotations

import signal
import subprocess
import sys
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
    env = bakestub.environment(
        tmp_path, STUB_PRINT_SLEEP="60", STUB_DEFINITION=str(tmp_path / "def.json")
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
    assert "interrupted while reading the bake definition, before bake started: nothing was " in err
    assert "every tag is untouched" in err and "Traceback" not in err
    doc = reports.load(report)
    assert doc["exit_code"] == 130 and "bake_exit_code" not in doc
    assert bakestub.bakes(env)[1] == []  # no build started
    # the `bake --print` is stopped, not left behind (a zombie until something reaps it)
    state = Path(f"/proc/{printing['pid']}/stat")
    assert not state.exists() or state.read_text().rsplit(")", 1)[1].split()[0] == "Z"
