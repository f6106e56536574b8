"""CI systems: GitHub Actions annotations (`::warning`/`::error` workflow commands, on stdout
as the runner reads them) and a markdown summary in $GITHUB_STEP_SUMMARY; GitLab collapsible
sections around bakeguard's own blocks. Only for builds: pass-through commands add nothing.

Everything written here from a record (what registries, files and bake said) is escaped on
the way out: an annotation's data as the runner decodes it (%25, %0D, %0A) with any other
control character made visible (bakeguard.text), and each value in the step summary visible
and unable to close its table cell or code span, so no value can start a workflow command,
a fake line, or markup of its own."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from bakeguard.text import visible

CI_VARS = ("GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "CIRCLECI", "JENKINS_URL", "TF_BUILD")


def system(environ: Mapping[str, str] | None = None) -> str | None:
    environ = os.environ if environ is None else environ
    if environ.get("GITHUB_ACTIONS") == "true":
        return "github"
    if environ.get("GITLAB_CI") == "true":
        return "gitlab"
    if any(environ.get(v) for v in CI_VARS) or environ.get("CI", "").lower() in ("true", "1"):
        return "other"
    return None


_WORKFLOW_ESCAPES = {"%": "%25", "\r": "%0D", "\n": "%0A"}


def _escape(s: str) -> str:
    """A workflow command's data: what the runner decodes back, else visible."""
    return "".join(_WORKFLOW_ESCAPES.get(c) or visible(c) for c in s)


def _text(value: object) -> str:
    """A value in the summary's markdown: visible, no markup, no cell border."""
    shown = visible(str(value)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for c in "\\|*_`[]":  # (markdown's own characters, shown as themselves)
        shown = shown.replace(c, "\\" + c)
    return shown


def _code(value: object) -> str:
    """A value as a code span of the summary: visible, unable to close the span or cell."""
    return "`" + visible(str(value)).replace("`", "'").replace("|", "\\|") + "`"


def annotate(
    level: str, title: str, message: str, environ: Mapping[str, str] | None = None
) -> None:
    """A GitHub annotation (level: warning | error | notice); nothing elsewhere."""
    if system(environ) != "github":
        return
    t = _escape(title).replace(",", "%2C").replace("::", "%3A%3A")
    sys.stdout.write(f"::{level} title={t}::{_escape(message)}\n")
    sys.stdout.flush()


class Section:
    """A GitLab collapsible section around a block of bakeguard's lines (on stderr)."""

    def __init__(self, name: str, header: str, environ: Mapping[str, str] | None = None) -> None:
        self.on = system(environ) == "gitlab"
        self.name = name
        self.header = header

    def __enter__(self) -> Section:
        if self.on:
            sys.stderr.write(
                f"\x1b[0Ksection_start:{int(time.time())}:{self.name}"
                f"[collapsed=true]\r\x1b[0K{self.header}\n"
            )
            sys.stderr.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.on:
            sys.stderr.write(f"\x1b[0Ksection_end:{int(time.time())}:{self.name}\r\x1b[0K\n")
            sys.stderr.flush()


def summary_markdown(record: Mapping[str, Any]) -> str:
    lines = ["### bakeguard", ""]
    env = record.get("environment") or {}
    if env:
        lines.append(
            f"buildx {_code(env.get('buildx') or env.get('buildx_raw'))}, builder "
            f"{_code(env.get('builder'))} ({_text(env.get('driver'))} driver); mode: "
            f"**{_text(record.get('mode', '?'))}**; exit code {_text(record.get('exit_code'))}"
        )
        lines.append("")
    for a in record.get("advisories") or []:
        tell = "" if a.get("certain") else " (cannot tell)"
        lines.append(f"- advisory {_code(a['id'])}{tell}")
    for e in record.get("compat_remembered") or []:
        lines.append(
            f"- registry {_code(e['host'])}: {_text(e['profile'])} profile, remembered since "
            f"{_text(e['since'])}"
        )
    for d in record.get("compat_detected") or []:
        if d.get("remembered"):
            lines.append(
                f"- registry {_code(d['host'])}: {_text(d['profile'])} profile worked, remembered"
            )
    ver = record.get("verification") or []
    if ver:
        lines += ["", "| tag | result | platforms | missing | digest |", "|---|---|---|---|---|"]
        for o in ver:
            lost = [f"{x['kind']} attestation of {x['platform']}" for x in _attest_missing(o)]
            lines.append(
                f"| {_code(o['ref'])} | {'✅ verified' if o['ok'] else '❌ FAILED'} | "
                f"{_text(', '.join(o['found']) or '-')} | "
                f"{_text(', '.join([*o['missing'], *lost]) or '-')} | "
                f"{_code((o.get('digest') or '-')[:19])} |"
            )
    lines += per_platform(ver)
    return "\n".join(lines) + "\n"


def _attest_missing(o: Mapping[str, Any]) -> list[Mapping[str, str]]:
    return list(o.get("attestations_missing") or [])


def per_platform(verification: Sequence[Mapping[str, Any]]) -> list[str]:
    """The registry's digest of each platform's manifest, and of each attestation with the
    platform it attests, per tag, in full (what a later job pins or compares); collapsed, as
    it is long. Nothing when no tag was read."""
    rows = []
    for o in verification:
        tag = _code(o["ref"])
        for p in o.get("platform_manifests") or []:
            rows.append(
                f"| {tag} | {_text(p['platform'])} | {_code(p['digest'])} | "
                f"{_code(p['media_type'] or '-')} |"
            )
        for a in o.get("attestations") or []:
            plat = a.get("subject_platform")
            about = _text(plat) if plat else _code((a.get("subject") or "?")[:19])
            rows.append(
                f"| {tag} | attestation of {about} | {_code(a['digest'])} | "
                f"{_code(a['media_type'] or '-')} |"
            )
    if not rows:
        return []
    tags = sum(1 for o in verification if o.get("platform_manifests"))
    return [
        "",
        f"<details><summary>Per-platform digests in the registry ({tags} "
        f"tag{'s' if tags != 1 else ''})</summary>",
        "",
        "| tag | platform | digest | media type |",
        "|---|---|---|---|",
        *rows,
        "",
        "</details>",
    ]


def write_summary(record: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> None:
    environ = os.environ if environ is None else environ
    path = environ.get("GITHUB_STEP_SUMMARY")
    if system(environ) != "github" or not path:
        return
    try:
        with open(path, "a") as f:
            f.write(summary_markdown(record))
    except OSError:
        pass
