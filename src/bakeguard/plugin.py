"""`--guard-install-plugin`: placeholder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bakeguard.errors import UsageError

if TYPE_CHECKING:
    from bakeguard.app import Session


def install(session: Session) -> int:
    raise UsageError("--guard-install-plugin is not available yet", "run without it")
