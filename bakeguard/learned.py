"""Registry profiles bakeguard remembers: when --guard=auto's one retry with a compatibility
profile succeeded, the host and that profile (with the day and the error line that taught it)
are kept in bakeguard's cache, and later runs use the profile up front instead of failing and
retrying again. Only a retry that worked teaches; BAKEGUARD_COMPAT / --guard-compat always
win over what is remembered; `--guard-forget-compat` forgets; BAKEGUARD_COMPAT_MEMORY=false
(--guard-compat-memory=false) neither uses nor teaches (e.g. runners sharing one cache).

What is read back is checked, field by field, as hostile input (a hand-edited file could
otherwise put escape sequences or forged lines into the terminal, the CI log and the report):
the host as docker names a registry (compatspec.is_host, compared as compatspec.host_key),
a known profile, `since` a real YYYY-MM-DD day, the error one printable line of at most
ERROR_LIMIT characters. An entry that fails is not remembered.

Light on purpose: the fast paths ask `exists` and `fingerprint` before bake starts, so json
is imported only to read or write the entries themselves."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from bakeguard import locator
from bakeguard.compatspec import REMEMBERED as KNOWN
from bakeguard.compatspec import host_key, is_host, strip_step
from bakeguard.text import is_one_line, one_line

FILE = "registry-profiles.json"
VERSION = 2
# Version 1 files name only these profiles; a file that names another is version 2, so that a
# bakeguard that knows only version 1 leaves it alone (it would drop, and so remove, an entry
# of a profile it does not know). Both are read.
V1_PROFILES = ("docker-v2", "no-attestations")
ERROR_LIMIT = 500  # characters of the registry's error line kept


class Learned(NamedTuple):
    host: str
    profile: str
    since: str  # the UTC day the retry worked, YYYY-MM-DD
    error: str  # the registry's error line that the profile answered


def path(environ: Mapping[str, str]) -> str:
    return os.path.join(os.path.dirname(locator.cache_dir(environ)), FILE)


def exists(environ: Mapping[str, str]) -> bool:
    """Is anything remembered (a file is kept only while it holds an entry)?"""
    return os.path.exists(path(environ))


def fingerprint(environ: Mapping[str, str]) -> str:
    """The identity of what is remembered, for the fast paths' cache keys."""
    if not exists(environ):
        return "-"
    try:
        with open(path(environ), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()[:16]
    except OSError:
        return "-"


def load(environ: Mapping[str, str]) -> dict[str, Learned]:
    """host -> what is remembered for it. A damaged file is nothing remembered, and removed
    (it would keep the fast paths off); one this bakeguard cannot open, or of another
    version (a newer bakeguard's), is nothing remembered and left alone."""
    if not exists(environ):
        return {}
    import json

    p = path(environ)
    try:
        with open(p, "rb") as f:
            data = f.read()
    except OSError:
        return {}
    try:
        doc = json.loads(data.decode())
        version = doc.get("version") if isinstance(doc, dict) else None
        if isinstance(version, int) and version not in (1, VERSION):
            return {}
        entries = doc["hosts"] if isinstance(doc, dict) else {}
        out: dict[str, Learned] = {}
        for host, e in entries.items():
            entry = _entry(host, e)
            if entry is not None:
                out.setdefault(entry.host, entry)
    except (ValueError, TypeError, KeyError, AttributeError):
        out = {}
    if not out:
        _remove(p)
    return out


def _entry(host: object, e: object) -> Learned | None:
    """One entry as read back, if every field is what `learn` writes (its host compared as
    docker names it; an error written before bakeguard dropped bake's step prefix, without
    it)."""
    if not isinstance(host, str) or not isinstance(e, dict):
        return None
    key = host_key(host)
    profile, since, error = e.get("profile"), e.get("since"), e.get("error")
    if not is_host(key) or profile not in KNOWN or not _is_day(since):
        return None
    if not isinstance(error, str) or not is_one_line(error, ERROR_LIMIT):
        return None
    return Learned(key, str(profile), str(since), strip_step(error))


def _is_day(value: object) -> bool:
    """A real day written YYYY-MM-DD."""
    if not isinstance(value, str) or len(value) != 10 or value[4] + value[7] != "--":
        return False
    if not (value[:4] + value[5:7] + value[8:]).isdigit() or not value.isascii():
        return False
    import datetime

    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def learn(environ: Mapping[str, str], host: str, profile: str, error: str) -> Learned | None:
    """Remember that `profile` made `host` accept the push (None: not a profile to
    remember). Two runs learning at once may lose one entry: the next rejection teaches it
    again."""
    if profile not in KNOWN:
        return None
    entries = load(environ)
    if not entries and exists(environ):  # a file `load` left alone is not this one's to write
        return None
    key = host_key(host)
    if not is_host(key):
        return None
    day = time.strftime("%Y-%m-%d", time.gmtime())
    entry = Learned(key, profile, day, one_line(strip_step(error), ERROR_LIMIT))
    entries[key] = entry
    _write(environ, entries)
    return entry


def forget(environ: Mapping[str, str], hosts: Iterable[str]) -> list[Learned]:
    """Forget these hosts ("all": every one); returns what was forgotten."""
    from bakeguard.refs import alias  # (not at the top: the fast paths import this module)

    entries = load(environ)
    wanted = {"all" if h.strip().lower() == "all" else host_key(h) for h in hosts}
    gone = [e for h, e in entries.items() if "all" in wanted or h in wanted or alias(h) in wanted]
    for e in gone:
        del entries[e.host]
    if gone:
        _write(environ, entries)
    return gone


def _write(environ: Mapping[str, str], entries: Mapping[str, Learned]) -> None:
    p = path(environ)
    if not entries:
        _remove(p)
        return
    import json

    old = all(e.profile in V1_PROFILES for e in entries.values())
    doc = {
        "version": 1 if old else VERSION,
        "hosts": {
            h: {"profile": e.profile, "since": e.since, "error": e.error}
            for h, e in sorted(entries.items())
        },
    }
    locator.write_atomic(p, json.dumps(doc, indent=2) + "\n")


def _remove(p: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(p)
