"""Packaging: wheel and sdist build; `pipx install .` works in a fresh environment; the version
comes from one place (bakeguard.__version__)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from bakeguard import __version__

ROOT = Path(__file__).resolve().parent.parent.parent


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, **kw)  # type: ignore[call-overload, no-any-return]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    res = run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)]
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return out


def test_wheel_and_sdist(dist: Path) -> None:
    wheel = next(dist.glob(f"bakeguard-{__version__}-py3-none-any.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        assert "bakeguard = bakeguard.cli:main" in z.read(entry).decode()
    assert "bakeguard/data/advisories.toml" in names and "bakeguard/py.typed" in names
    assert "bakeguard/data/report.schema.json" in names  # consumers validate reports with it
    sdist = next(dist.glob(f"bakeguard-{__version__}.tar.gz"))
    with tarfile.open(sdist) as t:
        members = t.getnames()
    assert any(m.endswith("/bakeguard/data/advisories.toml") for m in members)
    assert any(m.endswith("/bakeguard/data/report.schema.json") for m in members)


def test_pipx_install_in_a_fresh_environment(tmp_path: Path) -> None:
    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin")}
    res = run([sys.executable, "-m", "pipx", "install", str(ROOT)], env=env)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    exe = tmp_path / "bin" / "bakeguard"
    res = run([str(exe), "--guard-advisories"], env=env)
    assert res.returncode == 0 and "docker-driver-double-push" in res.stdout
    res = run([str(exe), "--guard=loud"], env=env)
    assert res.returncode == 2 and "warn, auto, strict, off" in res.stderr
