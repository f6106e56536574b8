"""Work done beside bake at low priority, so that it does not slow bake: the thread's CPU
priority lowered, and verification's modules imported before bake ends."""

from __future__ import annotations

import contextlib
import os
import threading


def lower_priority() -> None:
    """This thread's CPU priority lowered (nice 10): its work must not slow bake."""
    with contextlib.suppress(AttributeError, OSError):  # Linux: a thread's nice is its own
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def preload_verification() -> None:
    """Verification's modules (the registry client's included), imported at low priority in
    a thread that runs while bake does: not after bake, where they would delay verification
    or slow `imagetools create` beside them on 2 cores."""
    lower_priority()
    import bakeguard.registry.verify  # noqa: F401
