"""first_then_retrying: the first attempt without tenacity, later ones under its rules."""

from __future__ import annotations

from typing import Any

import pytest
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from bakeguard.retry import first_then_retrying


class Flaky(Exception):
    pass


def rules(slept: list[float], made: list[int]) -> Any:
    def retrying() -> Retrying:
        made.append(1)
        return Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, Flaky)),
            stop=stop_after_attempt(4),
            wait=wait_exponential(multiplier=0.5, max=8),
            sleep=slept.append,
            reraise=True,
        )

    return retrying


def test_a_first_success_never_makes_the_retry_rules() -> None:
    made: list[int] = []
    assert first_then_retrying(lambda: 7, lambda e: True, rules([], made)) == 7
    assert made == []


def test_the_first_failure_counts_as_tenacity_s_first_attempt() -> None:
    """4 attempts in all, 0.5, 1 and 2 s apart: the rules as written, not shifted by one."""
    calls: list[int] = []
    slept: list[float] = []

    def attempt() -> None:
        calls.append(1)
        raise Flaky()

    with pytest.raises(Flaky):
        first_then_retrying(attempt, lambda e: isinstance(e, Flaky), rules(slept, []))
    assert len(calls) == 4 and slept == [0.5, 1.0, 2.0]


def test_a_later_success_is_returned() -> None:
    failures = [Flaky(), Flaky()]

    def attempt() -> str:
        if failures:
            raise failures.pop()
        return "ok"

    slept: list[float] = []
    assert first_then_retrying(attempt, lambda e: isinstance(e, Flaky), rules(slept, [])) == "ok"
    assert slept == [0.5, 1.0]


def test_what_is_not_transient_is_raised_at_once() -> None:
    made: list[int] = []

    def attempt() -> None:
        raise KeyError("no")

    with pytest.raises(KeyError):
        first_then_retrying(attempt, lambda e: isinstance(e, Flaky), rules([], made))
    assert made == []
