"""Verification through a front whose error answers to HEAD carry a body (HTTP forbids it):
a kept-alive connection is used again only while its framing is beyond doubt, so whole tags
pass every time. The issue saw verify-only fail 6 of 7 times ("BadStatusLine") there, while
`imagetools inspect` passed 4 of 4."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.front import Front
from tests.helpers import Stack, bakeguard, unique_repo

RUNS = 5


def test_verify_only_passes_every_time_through_a_front_that_desyncs_heads(
    stack: Stack, project: Path, front: Callable[..., Front]
) -> None:
    f = front()
    tag = f"localhost:{f.port}/{unique_repo('framing')}/app:v1"
    env = stack.buildx("newest", TAG=tag)
    assert bakeguard(["--push", "--guard=off"], env, project).returncode == 0
    f.modes.flaky_every, f.modes.flaky_head_body = 2, True
    for run in range(RUNS):
        res = bakeguard(["--guard-verify-only", "--push"], env, project)
        assert res.returncode == 0, f"run {run + 1} of {RUNS}:\n{res.stderr[-3000:]}"
        assert "OK, 3/3" in res.stderr
    heads = [s for s in f.seen if s.method == "HEAD" and "bakeguard" in s.agent]
    assert any(s.status in (429, 503) for s in heads)  # bodies after HEADs were sent
