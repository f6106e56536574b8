"""The one parser of bakeguard's own options: the `--guard-*` flags and `BAKEGUARD_*`
variables (a flag over its variable over the default), checked before anything runs; the
rest of the arguments are bake's (bakeguard.bakeargs)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

from bakeguard.bakeargs import TRUE_WORDS, BakeArgs, parse_bake
from bakeguard.checks import DEFAULT_SPLIT_SUFFIX, check_seconds, check_values
from bakeguard.errors import UsageError

GUARD_MODES = ("warn", "auto", "strict", "off")


SPLIT_MODES = ("auto", "always", "never")


FALSE_WORDS = ("0", "false", "no", "off", "")


# verification waits on a registry at most this long: beyond an hour, a CI job's own timeout
# ends the run first and the report never says why
MAX_VERIFY_TIMEOUT = 3600.0


class GuardSpec:
    """One bakeguard option: its flag, variable, kind (choice | value | bool), default."""

    __slots__ = ("choices", "default", "env", "flag", "help", "kind")

    def __init__(
        self,
        flag: str,
        env: str | None,
        kind: str,
        default: str | None,
        help: str,
        choices: tuple[str, ...] = (),
    ) -> None:
        self.flag, self.env, self.kind, self.default = flag, env, kind, default
        self.help, self.choices = help, choices


GUARD_SPECS: tuple[GuardSpec, ...] = (
    GuardSpec(
        "--guard",
        "BAKEGUARD_GUARD",
        "choice",
        "auto",
        "policy when an advisory matches",
        GUARD_MODES,
    ),
    GuardSpec(
        "--guard-split",
        "BAKEGUARD_SPLIT",
        "choice",
        "auto",
        "per-platform pushes + imagetools create",
        SPLIT_MODES,
    ),
    GuardSpec(
        "--guard-split-suffix",
        "BAKEGUARD_SPLIT_SUFFIX",
        "value",
        DEFAULT_SPLIT_SUFFIX,
        "per-platform tag suffix on the docker driver",
    ),
    GuardSpec(
        "--guard-verify", "BAKEGUARD_VERIFY", "bool", "true", "read the registry after a push"
    ),
    GuardSpec(
        "--guard-verify-timeout",
        "BAKEGUARD_VERIFY_TIMEOUT",
        "value",
        "60",
        "total seconds verification may wait on a registry",
    ),
    GuardSpec(
        "--guard-report",
        "BAKEGUARD_REPORT",
        "value",
        None,
        "write the JSON report to FILE (- for stdout)",
    ),
    GuardSpec(
        "--guard-verify-only", None, "bool", None, "verify what the arguments would push, no build"
    ),
    GuardSpec("--guard-doctor", None, "bool", None, "check this machine and bake definition"),
    GuardSpec("--guard-plan", None, "bool", None, "print what would run, run nothing"),
    GuardSpec("--guard-advisories", None, "bool", None, "list the advisory table"),
    GuardSpec(
        "--guard-shard",
        "BAKEGUARD_SHARD",
        "value",
        None,
        "build and push only these platforms by digest",
    ),
    GuardSpec(
        "--guard-digests", "BAKEGUARD_DIGESTS", "value", None, "folder for the shard digest files"
    ),
    GuardSpec("--guard-merge", None, "value", None, "assemble and verify from a digests folder"),
    GuardSpec(
        "--guard-compat", "BAKEGUARD_COMPAT", "value", None, "registry compatibility profiles"
    ),
    GuardSpec(
        "--guard-compat-memory",
        "BAKEGUARD_COMPAT_MEMORY",
        "bool",
        "true",
        "use and learn the registry profiles retries proved",
    ),
    GuardSpec(
        "--guard-forget-compat",
        None,
        "value",
        None,
        "forget remembered registry profiles: HOST,... or all",
    ),
    GuardSpec("--guard-verbose", "BAKEGUARD_VERBOSE", "bool", None, "debug logging"),
    GuardSpec("--guard-version", None, "bool", None, "print bakeguard's and buildx's versions"),
    GuardSpec(
        "--guard-install-plugin", None, "bool", None, "install the docker-bakeguard CLI plugin"
    ),
)


SPECS_BY_FLAG = {s.flag: s for s in GUARD_SPECS}


class GuardOptions:
    """bakeguard's settings for one run (flags over variables over defaults)."""

    __slots__ = (
        "advisories",
        "compat",
        "compat_memory",
        "digests",
        "doctor",
        "forget_compat",
        "guard",
        "install_plugin",
        "merge",
        "plan",
        "report",
        "shard",
        "split",
        "split_suffix",
        "verbose",
        "verify",
        "verify_only",
        "verify_timeout",
        "version",
    )

    def __init__(
        self,
        guard: str = "auto",
        split: str = "auto",
        split_suffix: str = DEFAULT_SPLIT_SUFFIX,
        verify: bool = True,
        verify_timeout: float = 60.0,
        report: str | None = None,
        verify_only: bool = False,
        doctor: bool = False,
        plan: bool = False,
        advisories: bool = False,
        shard: str | None = None,
        digests: str | None = None,
        merge: str | None = None,
        compat: str | None = None,
        compat_memory: bool = True,
        forget_compat: str | None = None,
        verbose: bool = False,
        version: bool = False,
        install_plugin: bool = False,
    ) -> None:
        self.guard, self.split, self.split_suffix = guard, split, split_suffix
        self.verify, self.verify_timeout, self.report = verify, verify_timeout, report
        self.verify_only, self.doctor, self.plan = verify_only, doctor, plan
        self.advisories, self.shard, self.digests = advisories, shard, digests
        self.merge, self.compat, self.verbose = merge, compat, verbose
        self.compat_memory, self.forget_compat = compat_memory, forget_compat
        self.version, self.install_plugin = version, install_plugin

    def __repr__(self) -> str:
        return (
            "GuardOptions(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"
        )


def _coerce(spec: GuardSpec, raw: str, source: str) -> str:
    if spec.kind == "choice" and raw not in spec.choices:
        raise UsageError(
            f"{source}: invalid value {raw!r} for {spec.flag}",
            f"use one of: {', '.join(spec.choices)}",
        )
    if spec.kind == "bool" and raw.lower() not in TRUE_WORDS + FALSE_WORDS:
        raise UsageError(f"{source}: invalid value {raw!r} for {spec.flag}", "use true or false")
    return raw


def split_guard_args(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Take `--guard*` options out of argv (flag, flag=value, flag value); the rest is bake's."""
    found: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest.extend(argv[i:])
            break
        name, eq, val = a.partition("=")
        if name == "--guard" or name.startswith("--guard-"):
            spec = SPECS_BY_FLAG.get(name)
            if spec is None:
                known = ", ".join(s.flag for s in GUARD_SPECS)
                raise UsageError(f"unknown bakeguard option {name}", f"known options: {known}")
            if spec.kind == "bool":
                found[name] = _coerce(spec, val if eq else "true", "command line")
            elif eq or i + 1 < len(argv):
                value = val if eq else argv[i + 1]
                i += 0 if eq else 1
                # (an empty suffix gets check_suffix's message: what it would do)
                if value == "" and spec.kind == "value" and name != "--guard-split-suffix":
                    raise UsageError(f"{name} is given an empty value", f"give {name}=VALUE")
                found[name] = _coerce(spec, value, "command line")
            else:
                hint = f"one of: {', '.join(spec.choices)}" if spec.choices else "a value"
                raise UsageError(f"{name} needs a value", f"give {name}=VALUE with {hint}")
        else:
            rest.append(a)
        i += 1
    return found, rest


def parse(
    argv: Sequence[str], environ: Mapping[str, str] | None = None
) -> tuple[GuardOptions, BakeArgs]:
    environ = os.environ if environ is None else environ
    flags, rest = split_guard_args(argv)
    values: dict[str, str] = {}
    source: dict[str, str] = {}  # where each value came from, for the messages
    for spec in GUARD_SPECS:
        source[spec.flag] = spec.flag
        if spec.flag in flags:
            values[spec.flag] = flags[spec.flag]
        elif spec.env and environ.get(spec.env, "") != "":
            values[spec.flag] = _coerce(spec, environ[spec.env], spec.env)
            source[spec.flag] = spec.env
        elif spec.default is not None:
            values[spec.flag] = spec.default

    def flag(name: str) -> bool:
        return values.get(name, "false").lower() in TRUE_WORDS

    timeout_raw = values["--guard-verify-timeout"]
    try:
        timeout = float(timeout_raw)
        if not math.isfinite(timeout) or not 0 <= timeout <= MAX_VERIFY_TIMEOUT:
            raise ValueError
    except ValueError:
        raise UsageError(
            f"{source['--guard-verify-timeout']}: invalid verify timeout {timeout_raw!r}",
            "give --guard-verify-timeout / BAKEGUARD_VERIFY_TIMEOUT as seconds from 0 to "
            f"{MAX_VERIFY_TIMEOUT:.0f}, e.g. 60",
        ) from None
    check_values(values, source)
    check_seconds(environ, "BAKEGUARD_PROBE_TTL")
    opts = GuardOptions(
        guard=values["--guard"],
        split=values["--guard-split"],
        split_suffix=values["--guard-split-suffix"],
        verify=flag("--guard-verify"),
        verify_timeout=timeout,
        report=values.get("--guard-report"),
        verify_only=flag("--guard-verify-only"),
        doctor=flag("--guard-doctor"),
        plan=flag("--guard-plan"),
        advisories=flag("--guard-advisories"),
        shard=values.get("--guard-shard"),
        digests=values.get("--guard-digests"),
        merge=values.get("--guard-merge"),
        compat=values.get("--guard-compat"),
        compat_memory=flag("--guard-compat-memory"),
        forget_compat=values.get("--guard-forget-compat"),
        verbose=flag("--guard-verbose"),
        version=flag("--guard-version"),
        install_plugin=flag("--guard-install-plugin"),
    )
    return opts, parse_bake(rest)
