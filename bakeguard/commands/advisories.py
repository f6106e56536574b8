"""`--guard-advisories`: the advisory table, as text or (with --guard-report) JSON."""

from __future__ import annotations

from collections.abc import Mapping

from bakeguard import report
from bakeguard.options import GuardOptions
from bakeguard.text import emit


def list_advisories(opts: GuardOptions, environ: Mapping[str, str]) -> int:
    from bakeguard import advisories

    table_ = advisories.load(environ)
    if opts.report:
        report.write(
            opts.report, {"schema": report.SCHEMA, "advisories": [a.to_json() for a in table_]}
        )
        return 0
    for a in table_:
        emit(f"{a.id}  [{a.level}]  buildx {a.affected}  fixed: {a.fixed or '-'}  ({a.confidence})")
        emit(f"    {a.title}")
        emit(f"    see: {' '.join(a.references)}")
    return 0
