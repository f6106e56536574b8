"""Fixtures over the real test ground (scripts/stack) and the registry front (tests/front.py).

Tests under tests/stack/ are marked `stack`; they need `scripts/stack up`. Locally a missing
stack skips them with the reason; under CI (CI=true) it fails the run.
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bakeguard import learned
from tests import reports
from tests.front import Front, Modes
from tests.helpers import Stack, load_stack

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/stack/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.stack)


@pytest.fixture(autouse=True)
def reports_match_the_schema(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that has a tmp_path: every report in it matches the strict schema
    (tests/reports.py), whether the test read it or not. tmp_path is asked for here, before
    the test, so that it is torn down after this check."""
    tmp = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if tmp is not None:
        reports.check_tree(tmp)


@pytest.fixture(scope="session")
def stack() -> Stack:
    found, why = load_stack()
    if found is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the real stack is not running under CI: {why}", pytrace=False)
        pytest.skip(f"real stack not running ({why}); run scripts/stack up")
    return found


@pytest.fixture
def front(stack: Stack) -> Iterator[Callable[..., Front]]:
    """front(msr=True, ...) starts a registry front over the plain registry."""
    started: list[Front] = []

    def make(tls: ssl.SSLContext | None = None, **modes: object) -> Front:
        f = Front.start(stack.registry, stack.front_ports, tls)
        f.modes = Modes(**modes)  # type: ignore[arg-type]
        started.append(f)
        return f

    yield make
    for f in started:
        f.stop()
    # A profile learned for a front's port would apply to the next test's front on that
    # port: tests whose retry may succeed give bakeguard their own XDG_CACHE_HOME.
    leaked = [h for f in started for h in learned.load(stack.env) if h.endswith(f":{f.port}")]
    if leaked:
        learned.forget(stack.env, leaked)
        pytest.fail(f"a profile was remembered in the shared cache for {leaked}", pytrace=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A 3-platform FROM scratch bake project; its content is unique per test."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    (tmp_path / "hello.txt").write_text(f"hello from {tmp_path.name}\n")
    (tmp_path / "docker-bake.hcl").write_text(
        'variable "TAG" {\n  default = "localhost:5000/bakeguard/unset:v1"\n}\n'
        'group "default" {\n  targets = ["app"]\n}\n'
        'target "app" {\n'
        '  platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"]\n'
        "  tags = [TAG]\n"
        "}\n"
    )
    return tmp_path


sys.path.insert(0, str(ROOT))
# Every `python -m bakeguard` a test starts runs this checkout's code, whichever checkout the
# shared virtualenv was installed from last (two checkouts' runs at once tested each other's).
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
