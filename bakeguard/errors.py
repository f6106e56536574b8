"""bakeguard's own failures, each with its documented exit code and a fix-it hint.

Exit codes: bake's own code passes through; 2 bad bakeguard option; 3 verification failed;
4 refused by a strict guard; 130 interrupted.
"""

from __future__ import annotations

EXIT_USAGE = 2
EXIT_VERIFY = 3
EXIT_REFUSED = 4
EXIT_INTERRUPTED = 130


class BakeguardError(Exception):
    """An error bakeguard reports itself: one paragraph saying what went wrong and the fix."""

    exit_code = 1
    reported = False  # the run's report, written already, says how it ended

    def __init__(self, what: str, fix: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix

    def lines(self) -> list[str]:
        """The message as the log shows it: what, then the fix on a line of its own."""
        return [self.what, f"  fix: {self.fix}"] if self.fix else [self.what]

    def message(self) -> str:
        return "\n".join(self.lines())


class UsageError(BakeguardError):
    exit_code = EXIT_USAGE


class VerificationFailed(BakeguardError):
    exit_code = EXIT_VERIFY


class GuardRefused(BakeguardError):
    exit_code = EXIT_REFUSED


class DockerError(BakeguardError):
    """A docker command bakeguard needed (not bake itself) failed."""

    def __init__(self, what: str, fix: str = "", exit_code: int = 1) -> None:
        super().__init__(what, fix)
        self.exit_code = exit_code
