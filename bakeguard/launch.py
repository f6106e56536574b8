"""The build flow's bake: every bake a build runs (the user's arguments with a metadata file
of bakeguard's, or a generated definition) is a `Launch`, data that `execute` runs the one
way: bake attached to the user's terminal, its stderr tailed, the work that should not delay
it started in a thread once it runs, then what follows it, and its files removed however it
ends. The full path and the fast paths (bakeguard.fastpath) differ only in the Launch they
make: what is known before bake, and what the thread beside it prepares."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

from bakeguard.docker import Docker
from bakeguard.jobs import Chunked
from bakeguard.terminal import Tail


class Launch:
    """One bake and what goes with it. (A plain class: dataclasses' import, with inspect, is
    work the fast paths would do before their bake starts.)"""

    __slots__ = ("after", "argv", "beside", "chunked", "cleanup", "ended_early", "env", "unset")

    def __init__(
        self,
        argv: Sequence[str],  # bake's arguments
        after: Callable[[int, Tail], int],  # bake's exit code and stderr tail -> the run's
        env: Mapping[str, str] | None = None,  # variables added to bake's environment
        unset: Sequence[str] = (),  # variables taken out of it
        beside: Callable[[], None] | None = None,  # in a thread, once bake runs
        ended_early: Callable[[BaseException], None] | None = None,  # bake raised (a signal)
        cleanup: Callable[[], None] | None = None,  # last, whatever happened
        chunked: Chunked | None = None,  # bounded chunks run as this one bake (jobs.py)
    ) -> None:
        self.argv, self.after, self.env, self.unset = argv, after, env, unset
        self.beside, self.ended_early, self.cleanup = beside, ended_early, cleanup
        self.chunked = chunked


def execute(docker: Docker, launch: Launch) -> int:
    seen = Tail()
    # started once bake runs: its imports would hold the GIL while bake is being started
    thread = threading.Thread(target=launch.beside, daemon=True) if launch.beside else None
    try:
        try:
            started = thread.start if thread is not None else None
            if launch.chunked is not None:
                code = launch.chunked.run(docker, launch.env, launch.unset, seen, started)
            else:
                code = docker.run_bake(
                    launch.argv, env=launch.env, unset=launch.unset, tee=seen, started=started
                )
        except BaseException as e:
            if thread is not None and thread.ident is not None:
                thread.join(timeout=5)
            if launch.ended_early is not None:
                launch.ended_early(e)
            raise
        if thread is not None and thread.ident is not None:
            thread.join()
        return launch.after(code, seen)
    finally:
        if launch.cleanup is not None:
            launch.cleanup()
