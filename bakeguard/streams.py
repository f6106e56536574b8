"""bake's definition from a stream, read once: `-f -` (stdin), `-f /dev/stdin` (any path that
is bakeguard's own stdin), a FIFO, `-f <(...)` (a pipe under /dev/fd). bake reads such a file
once; bakeguard runs bake more than once (`bake --print` to know the definition, then the
build), so it reads each stream itself, once and bounded, into a private folder (0700, files
0600, removed when the run ends), and every bake gets the same bytes: stdin's as its own stdin
(the arguments stay as written, so bake names the file as the user did), another stream's as
a copy under the same base name (bake tells HCL, JSON and compose files apart by the name's
suffix). Without this, `bake --print` read nothing and the guard was silently off.

Standard library only: this runs before a fast path's bake starts."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from bakeguard.bakeargs import BakeArgs, parse_bake
from bakeguard.errors import UsageError

CAP = 16 * 1024 * 1024  # a bake definition is kilobytes; 16 MiB is far beyond any real one
STDIN = "stdin"  # the file in the folder that every bake gets as its stdin


def _is_stdin(path: str) -> bool:
    """`-`, or a path that is bakeguard's own stdin (/dev/stdin, /dev/fd/0, /proc/self/fd/0,
    or the file stdin was redirected from)."""
    if path == "-":
        return True
    try:
        here, there = os.fstat(0), os.stat(path)
    except (OSError, ValueError):
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _is_stream(path: str) -> bool:
    """A file bake could read only once: anything that exists and is not a regular file or
    a folder (a FIFO, a pipe, a device, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _read(fd: int, name: str) -> bytes:
    """All of a stream, at most CAP bytes (more is an error naming the cap)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = os.read(fd, 1 << 20)
        except OSError as e:
            raise UsageError(
                f"cannot read the bake definition from {name}: {e.strerror}",
                "pass the definition in a file (-f FILE)",
            ) from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > CAP:
            raise UsageError(
                f"the bake definition read from {name} is larger than {CAP // (1024 * 1024)} "
                "MiB, the most bakeguard reads from a stream",
                "check what is piped in; a definition that large belongs in a file (-f FILE)",
            )


def _open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _write(folder: str, name: str, data: bytes) -> str:
    fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)  # (a regular file takes it whole)
    finally:
        os.close(fd)
    return os.path.join(folder, name)


def take(bake: BakeArgs) -> tuple[BakeArgs, str | None]:
    """bake's arguments with every stream `--file` read: (the arguments, each stream other
    than stdin replaced by its copy; the private folder holding the copies and `stdin`, or
    None when no file is a stream)."""
    files = bake.values("--file")
    wanted = [f for f in dict.fromkeys(files) if f and (_is_stdin(f) or _is_stream(f))]
    if not wanted:
        return bake, None
    import tempfile

    folder = tempfile.mkdtemp(prefix="bakeguard-definition-")  # (0700)
    try:
        copies: dict[str, str] = {}
        for n, f in enumerate(wanted):
            if _is_stdin(f):
                if not os.path.exists(os.path.join(folder, STDIN)):
                    # (no stdin at all: bake gets none either, and says so itself)
                    data = _read(0, "stdin") if _open(0) else b""
                    _write(folder, STDIN, data)
                continue
            try:
                fd = os.open(f, os.O_RDONLY)
            except OSError as e:
                raise UsageError(
                    f"cannot read the bake definition {f}: {e.strerror}", "check the -f path"
                ) from None
            try:
                data = _read(fd, f)
            finally:
                os.close(fd)
            os.mkdir(os.path.join(folder, str(n)), 0o700)
            copies[f] = _write(os.path.join(folder, str(n)), os.path.basename(f) or "-", data)
        return _replaced(bake, copies), folder
    except BaseException:
        remove(folder)
        raise


def _replaced(bake: BakeArgs, copies: dict[str, str]) -> BakeArgs:
    """The arguments with these `--file` values replaced, every token otherwise as written.
    A value is always the end of the last token of the item that holds the flag's tokens
    (`-f X`, `--file X`, `--file=X`, `-fX`, `-Df X`: a cluster's tokens are its first
    item's)."""
    if not copies:
        return bake
    tokens = [list(it.tokens) for it in bake.items]
    holder = 0
    for i, it in enumerate(bake.items):
        if it.tokens:
            holder = i
        if it.flag == "--file" and it.value in copies and tokens[holder]:
            last = tokens[holder][-1]
            value = it.value or ""
            tokens[holder][-1] = last[: len(last) - len(value)] + copies[value]
    return parse_bake([t for ts in tokens for t in ts])


def remove(folder: str | None) -> None:
    if folder is not None:
        import shutil  # (tempfile imported it already)

        shutil.rmtree(folder, ignore_errors=True)


def bake_stdin(folder: str | None, args: Sequence[str]) -> int | None:
    """The stdin of `docker ARGS` when it is a bake and this run read stdin's definition: a
    descriptor of those bytes opened anew, so read from the start (None: the default)."""
    if folder is None or list(args[:2]) != ["buildx", "bake"]:
        return None
    try:
        return os.open(os.path.join(folder, STDIN), os.O_RDONLY)
    except OSError:  # (no `-f -` among the streams read)
        return None


def close(fd: int | None) -> None:
    """Our copy of a child's stdin, once the child has its own."""
    if fd is not None:
        os.close(fd)
