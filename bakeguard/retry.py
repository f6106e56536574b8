"""Retries with tenacity, loaded only once they are needed: its import is not free, and the
first attempt is usually the only one (right after bake, where a push's wait is spent)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def first_then_retrying(
    attempt: Callable[[], T],
    transient: Callable[[BaseException], bool],
    retrying: Callable[[], Any],
) -> T:
    """attempt(); when it raises something `transient`, the tenacity `Retrying` that
    `retrying()` makes (importing tenacity) takes over, that failure counted as its first
    attempt, so its stop and wait rules apply as if it had run every attempt itself."""
    try:
        return attempt()
    except BaseException as e:
        if not transient(e):
            raise
        first: BaseException | None = e
    for try_ in retrying():
        with try_:
            if first is not None:
                failed, first = first, None
                raise failed
            return attempt()
    raise AssertionError("unreachable")  # pragma: no cover
