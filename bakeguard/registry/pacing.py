"""The registry client's retry rules (tenacity, imported only once a request has failed):
429 after its Retry-After, 5xx and lagging tags with a jittered backoff, no answer at all
twice more at most, quickly; every pause within the budget's deadline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bakeguard.registry.errors import RegistryError, Unreachable

# No answer at all (a refused connection, a name that does not resolve, a connection closed
# unanswered): right after a push that worked, that is almost never a passing state of the
# registry but this machine's view of it (another network, a proxy, a name only the engine
# resolves), and waiting out the budget would only delay saying so. Two quick retries, under
# a second in all, still cover what is passing: a registry or its load balancer restarting,
# a resolver's momentary failure.
UNREACHABLE_TRIES = 3
UNREACHABLE_PAUSE = 0.25  # seconds before the 2nd try; twice that before the 3rd


def retrying(
    budget: float,
    left: Callable[[], float],
    sleep: Callable[[float], None],
    transient: Callable[[BaseException], bool],
) -> Any:
    """A tenacity Retrying for failures `transient` accepts; `left()` is the time left before
    the budget's deadline (a budget of 0: no retries)."""
    from tenacity import RetryCallState, Retrying, retry_if_exception
    from tenacity.wait import wait_exponential_jitter

    backoff = wait_exponential_jitter(multiplier=0.2, max=5)
    # a retry needs time to run: pauses end this much before the deadline, or the last
    # try would have none and the run end on a timeout rather than the registry's answer
    reserve = min(1.0, budget / 10)
    decided: dict[int, float | None] = {}  # attempt number: the pause, None to stop

    def decide(rs: RetryCallState) -> float | None:
        """After a failed attempt: the pause before the next, or None to stop. (tenacity
        asks `stop` and `wait` in an order that changed between its versions.)"""
        if rs.attempt_number in decided:
            return decided[rs.attempt_number]
        exc = rs.outcome.exception() if rs.outcome else None
        pause: float | None = None
        if budget > 0 and isinstance(exc, RegistryError):
            if isinstance(exc, Unreachable):
                if not exc.timed_out and rs.attempt_number < UNREACHABLE_TRIES:
                    pause = UNREACHABLE_PAUSE * rs.attempt_number
            elif exc.retry_after is not None:
                pause = exc.retry_after
            else:
                pause = backoff(rs)
            remaining = left() - reserve
            pause = None if pause is None or remaining <= 0 else min(pause, remaining)
        decided[rs.attempt_number] = pause
        return pause

    return Retrying(
        retry=retry_if_exception(transient),
        stop=lambda rs: decide(rs) is None,
        wait=lambda rs: decide(rs) or 0.0,
        sleep=sleep,
        reraise=True,
    )
