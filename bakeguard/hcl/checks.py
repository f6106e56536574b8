"""What bake checks when it turns each resolved target into build options, before it prints
(buildx bake.go toBuildOpt): where bake --print itself fails, the plan must not list the build.
Platforms as containerd's platforms.Parse reads them, ulimits as go-units ParseUlimit,
shm-size as RAMInBytes, a secret's `src` that must exist, an ssh agent that needs
SSH_AUTH_SOCK (or key files that exist)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from bakeguard.hcl.target import Target
from bakeguard.hcl.values import HclError

_SPECIFIER = re.compile(r"^[A-Za-z0-9_.-]+$")
_OS = re.compile(r"^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$")
_KNOWN_OS = {"aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios",
             "js", "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos",
             "macos"}  # fmt: skip
_KNOWN_ARCH = {"386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le",
               "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le",
               "ppc", "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm", "i386",
               "x86_64", "x86-64", "aarch64", "armhf", "armel"}  # fmt: skip
_ULIMITS = {"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
            "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}  # fmt: skip
_MEMBYTES = re.compile(r"^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_INT = re.compile(r"^[-+]?\d+$")


def platform_error(spec: str) -> str | None:
    """platformutil.Parse: a comma list of `local` or containerd platform specifiers."""
    for one in spec.split(","):
        if one.lower() == "local":
            continue
        if "*" in one:
            return f"{one!r}: wildcards not yet supported"
        parts = one.split("/", 3)
        if not _OS.match(parts[0]):
            return f"{parts[0]!r} is an invalid OS component of {one!r}"
        bad = next((p for p in parts[1:] if not _SPECIFIER.match(p)), None)
        if bad is not None:
            return f"{bad!r} is an invalid component of {one!r}"
        if len(parts) == 4:
            return f"{one!r}: cannot parse platform specifier"
        if len(parts) == 1 and parts[0].lower() not in _KNOWN_OS | _KNOWN_ARCH:
            return f"{one!r}: unknown operating system or architecture"
    return None


def _ulimit_error(value: str) -> str | None:
    name, eq, limits = value.partition("=")
    if not eq:
        return f"invalid ulimit argument: {value}"
    if name not in _ULIMITS:
        return f"invalid ulimit type: {name}"
    soft, _, hard = limits.partition(":")
    for n in (soft, hard or soft):
        if not _INT.match(n):
            return f'strconv.ParseInt: parsing "{n}": invalid syntax'
    if hard and int(soft) > int(hard):
        return f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
    return None


def _ssh_source(path: Path) -> bool:
    """An agent socket, or a file holding a private key (sshprovider parses it)."""
    try:
        if path.is_socket():
            return True
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return False
    return b"-----BEGIN" in head and b"PRIVATE KEY-----" in head


def check(t: Target, cwd: Path, environ: Mapping[str, str]) -> None:
    """bake's own error for this target's build options, if it has one."""
    errors = [platform_error(p) for p in t.lists.get("platforms", [])]
    errors += [_ulimit_error(u) for u in t.lists.get("ulimits", [])]
    shm = t.strs.get("shm-size")
    if shm and not _MEMBYTES.match(shm):
        errors.append(f"invalid value {shm} for membytes key shm-size")
    for s in t.entries.get("secret", []):
        src = s.get("src")
        if src and not (cwd / src).exists():  # (Go's os.Stat: no ~ expansion)
            errors.append(f"failed to stat {src}: no such file or directory")
    for s in t.entries.get("ssh", []):
        paths = [p for p in s.get("paths", "").split(",") if p]
        if not paths and not environ.get("SSH_AUTH_SOCK"):
            errors.append("invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set")
        bad = next((p for p in paths if not _ssh_source(cwd / p)), None)
        if bad is not None:
            errors.append(f"failed to convert agent config for ID {s.get('id')}: {bad} is "
                          "neither an ssh agent socket nor a private key")  # fmt: skip
    found = next((e for e in errors if e), None)
    if found:
        raise HclError(f"target {t.name}: {found}", t.at)
