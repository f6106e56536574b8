"""`--guard-plan`: placeholder until the plan issue lands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bakeguard.errors import UsageError

if TYPE_CHECKING:
    from bakeguard.app import Session


def plan(session: Session) -> int:
    raise UsageError("--guard-plan is not available yet", "run without it")
