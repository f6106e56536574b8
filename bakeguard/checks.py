"""bakeguard's own inputs checked before anything runs (bakeguard.options calls them): a bad
one would otherwise show only after the build (the report, the shard's digest files) or
midway (the split, a registry profile)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from bakeguard.errors import UsageError

DEFAULT_SPLIT_SUFFIX = "-{os}-{arch}{variant}"


def check_values(values: Mapping[str, str], source: Mapping[str, str]) -> None:
    """The values of bakeguard's options (flag or variable; `source` names which)."""
    suffix = values["--guard-split-suffix"]
    if suffix != DEFAULT_SPLIT_SUFFIX:  # (the default needs no check, nor its import)
        from bakeguard.platforms import check_suffix

        check_suffix(suffix, source["--guard-split-suffix"])
    shard = values.get("--guard-shard")
    if shard is not None and not [p for p in shard.split(",") if p.strip()]:
        raise UsageError(
            f"{source['--guard-shard']} {shard!r} names no platform",
            "give the shard's platforms, comma-separated, e.g. --guard-shard linux/arm64",
        )
    if shard is not None and values["--guard"] == "off":
        # off is plain bake: it would build and push every platform, not the shard's
        raise UsageError(
            f"{source['--guard-shard']} needs the guard on, but {source['--guard']} is off",
            "drop --guard=off (BAKEGUARD_GUARD=off) for the shard jobs",
        )
    compat = values.get("--guard-compat")
    if compat is not None:  # (the same check a push makes: --guard-plan refuses it too)
        from bakeguard import compatspec

        compatspec.parse(compat, source["--guard-compat"])
    report = values.get("--guard-report")
    if report is not None:
        check_writable_file(report, source["--guard-report"])
    digests = values.get("--guard-digests")
    if digests is not None:
        check_writable_folder(digests, source["--guard-digests"])


def check_seconds(environ: Mapping[str, str], var: str) -> None:
    """A variable of seconds, when set: a finite number, 0 or more."""
    raw = environ.get(var, "")
    if not raw:
        return
    try:
        ok = math.isfinite(float(raw)) and float(raw) >= 0
    except ValueError:
        ok = False
    if not ok:
        raise UsageError(
            f"{var}: invalid value {raw!r}", f"give {var} as seconds, e.g. 60 (0: off)"
        )


def check_writable_file(path: str, source: str) -> None:
    """A file bakeguard writes at the end of a run (`-`: stdout) can be written now: an
    existing file is opened for appending (nothing changes), a new one is created and removed."""
    if path == "-":
        return
    fix = "give a file in an existing, writable folder, or - for stdout"
    if os.path.isdir(path):
        raise UsageError(f"{source} {path}: is a folder, not a file", fix)
    try:
        if os.path.exists(path):
            with open(path, "a"):
                pass
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            os.unlink(path)
    except OSError as e:
        raise UsageError(f"{source} {path}: cannot be written: {e.strerror}", fix) from None
    except ValueError as e:  # a NUL in the path
        raise UsageError(f"{source} {path!r}: not a path: {e}", fix) from None


def check_writable_folder(path: str, source: str) -> None:
    """A folder bakeguard writes into (made if missing) can be: it, or the nearest folder
    above it that exists, is a writable folder."""
    fix = "give a folder that exists or can be made, and can be written"
    here = os.path.abspath(path)
    while not os.path.exists(here) and os.path.dirname(here) != here:
        here = os.path.dirname(here)
    if not os.path.isdir(here):
        what = "is a file" if here == os.path.abspath(path) else f"is under a file, {here}"
        raise UsageError(f"{source} {path}: {what}, not a folder", fix)
    if not os.access(here, os.W_OK | os.X_OK):
        raise UsageError(f"{source} {path}: {here} cannot be written", fix)
