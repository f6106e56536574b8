"""Registry compatibility profiles, for registries that reject what BuildKit pushes by default.

  docker-v2        Docker schema-2 media types (oci-mediatypes=false) and no attestations
                   (BuildKit >= 0.31 refuses oci-mediatypes=false with attestations);
                   imagetools create then writes a Docker manifest list.
  no-attestations  no provenance/SBOM attestations (no unknown/unknown index entries).
  no-oci-artifact  attestations kept, in the form BuildKit gave them before v0.32
                   (oci-artifact=false on the output: no `subject`, no `artifactType`, no
                   empty config), for registries that refuse OCI artifacts (GitLab, Aliyun
                   ACR, ECR: advisory buildkit-oci-artifact-attestations).
  oci              what BuildKit does by default (a host that needs nothing).

Set per host with BAKEGUARD_COMPAT="host[:port]=PROFILE,..." or for all hosts with a bare
PROFILE (--guard-compat / BAKEGUARD_COMPAT); hosts are compared as docker names them
(bakeguard.compatspec). Profiles are applied to the generated definition
(never to the user's files). Profiles that earlier runs' retries proved (bakeguard.learned) come
after every profile set here. `detect` reads a failed push's error text and names the profile
that fits, for --guard=auto's one retry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bakeguard import compatspec
from bakeguard.compatspec import host_key
from bakeguard.definition import Output, Target
from bakeguard.learned import Learned
from bakeguard.refs import Reference, alias

# (each profile also does what the ones below it do: without attestations there is no OCI
# artifact to refuse)
STRICTNESS = {"oci": 0, "no-oci-artifact": 1, "no-attestations": 2, "docker-v2": 3}
DESCRIPTIONS = {
    "docker-v2": "Docker schema-2 media types, no attestations",
    "no-attestations": "no provenance/SBOM attestations",
    "no-oci-artifact": "attestations without subject/artifactType: oci-artifact=false",
    "oci": "BuildKit's defaults",
}
# the attributes a profile sets on every pushing output
OUTPUT_ATTRS = {
    "docker-v2": {"oci-mediatypes": "false"},
    "no-oci-artifact": {"oci-artifact": "false"},
}
ATTEST_OFF = ["type=provenance,disabled=true", "type=sbom,disabled=true"]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# (pattern on an error line, profile); the first that matches wins
RULES = (
    (re.compile(r"attestation|unknown/unknown", re.I), "no-attestations"),
    # registries that refuse BuildKit >= 0.32's OCI-artifact attestations, in their words:
    # GitLab (the attestation's subject, moby/buildkit#7007), Aliyun ACR (its empty config),
    # AWS ECR (405 on the manifest PUT, moby/buildkit#5747)
    (
        re.compile(
            r"blob unknown to registry|unknown manifest class for application/vnd\.oci\.empty|"
            r"PUT request to \S*/manifests/\S*: 405",
            re.I,
        ),
        "no-oci-artifact",
    ),
    (
        re.compile(
            r"manifest[_ ]invalid|unsupported media ?type|"
            r"does not support (the )?oci|oci (index|manifest).*not (supported|accepted)|"
            r"failed commit on ref \"(manifest|index)-sha256.*400",
            re.I,
        ),
        "docker-v2",
    ),
)


@dataclass(frozen=True)
class Compat:
    default: str | None = None
    hosts: Mapping[str, str] = field(default_factory=dict)
    # what runs remembered (bakeguard.learned), below every profile set here
    remembered: Mapping[str, Learned] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # hosts keyed as they are compared, however the maker wrote them (a retry's host
        # comes from a reference as the user wrote it)
        object.__setattr__(self, "hosts", {host_key(h): p for h, p in self.hosts.items()})
        object.__setattr__(self, "remembered", {host_key(h): e for h, e in self.remembered.items()})

    @property
    def empty(self) -> bool:
        explicit = self.default in (None, "oci") and all(p == "oci" for p in self.hosts.values())
        return explicit and (self.default is not None or not self.remembered)

    def for_host(self, host: str) -> str | None:
        known = self.remembered_for(host)
        return known.profile if known else self._set_for(host)

    def remembered_for(self, host: str) -> Learned | None:
        """What is remembered for `host`, when that is the profile it gets (a profile set in
        BAKEGUARD_COMPAT / --guard-compat, for it or for every host, wins)."""
        if self._set_for(host) is not None:
            return None
        key = host_key(host)
        return self.remembered.get(key) or self.remembered.get(alias(key))

    def _set_for(self, host: str) -> str | None:
        """The profile a setting gives `host` (by either of a loopback registry's names)."""
        key = host_key(host)
        for name in (key, alias(key)):
            if name in self.hosts:
                return self.hosts[name]
        return self.default

    def for_target(self, t: Target) -> str | None:
        found = [self.for_host(Reference.parse(r).registry) for r in t.push_refs]
        known = [p for p in found if p]
        return max(known, key=lambda p: STRICTNESS[p]) if known else None

    def merged(self, other: Compat) -> Compat:
        return Compat(
            other.default or self.default,
            {**self.hosts, **other.hosts},
            {**self.remembered, **other.remembered},
        )


def parse(value: str | None) -> Compat:
    """BAKEGUARD_COMPAT / --guard-compat (compatspec.parse: the same check as before the
    run, for --guard-plan too)."""
    if not value:
        return Compat()
    return Compat(*compatspec.parse(value))


def apply(raw: Mapping[str, Any], profile: str | None) -> dict[str, Any]:
    """A target's printed attributes with the profile applied."""
    out = dict(raw)
    if profile in (None, "oci"):
        return out
    if profile != "no-oci-artifact":
        out["attest"] = list(ATTEST_OFF)
    extra = OUTPUT_ATTRS.get(profile, {})
    if extra:
        outputs = []
        for o in raw.get("output") or []:
            parsed = Output.parse(o)
            if parsed.pushes:
                attrs = {**parsed.attrs, **extra}
                outputs.append(",".join(f"{k}={v}" for k, v in attrs.items()))
            else:
                outputs.append(o)
        out["output"] = outputs
    return out


# The engine's own push (buildx < 0.22 on the docker driver pushes a second time "with
# docker", advisory docker-driver-double-push): its errors say nothing about what the
# registry accepts from BuildKit, so a profile would not change them. bake shows them
# - in plain progress (and a terminal's summary): as lines of the "#N pushing NAME with
#   docker" step and as the ERROR after bake's "> pushing NAME with docker:" summary, with
#   "[TARGET] " before "pushing" when bake builds several targets;
# - in every progress, quiet too (where bake prints its final "ERROR: [target T: ]..." line
#   only): in the engine's own words. The docker API client's "Error response from daemon",
#   and "error from registry: ", with which the containerd image store wraps every registry
#   error of the engine's push (github.com/moby/moby daemon/containerd/registry_errors.go
#   translateRegistryError, from image_push.go; v28.5.2). BuildKit's own pusher never says
#   that: its registry errors are containerd's ("unexpected status from PUT request to URL",
#   core/remotes/errors/errors.go), and neither the BuildKit nor the containerd that moby
#   vendors has the words. They count as the engine's only where bake pushes through the
#   engine at all (`engine`), so a registry's message that happens to hold them cannot hide
#   its rejection of BuildKit's push anywhere else.
_ENGINE = re.compile(r"error response from daemon", re.I)
_ENGINE_WORDS = re.compile(r"\berror from registry: ", re.I)
_ENGINE_STEP = re.compile(r"^#(\d+) (?:\[[^\]\s]+\] )?pushing \S+ with docker\s*$")
_ENGINE_SUMMARY = re.compile(r"^\s*> (?:\[[^\]\s]+\] )?pushing \S+ with docker:\s*$")
_STEP = re.compile(r"^#(\d+) ")


class Rejection(NamedTuple):
    """A registry's known rejection of BuildKit's push: where, the profile that fits, and the
    error line that says so."""

    host: str
    profile: str
    line: str


def classify(text: str, engine: bool = False) -> list[tuple[str, bool]]:
    """bake's error lines in order, each with whether it is the engine's push's. `engine`:
    bake on this builder pushes a second time through the engine (split.plan.engine_pushes)."""
    engine_steps: set[str] = set()
    after_summary = False
    out = []
    for raw in _ANSI.sub("", text).splitlines():
        line = raw.strip()
        step = _ENGINE_STEP.match(line)
        if step:
            engine_steps.add(step.group(1))
        if _ENGINE_SUMMARY.match(line):
            after_summary = True
            continue
        if not re.search(r"\berror\b|failed", line, re.I) or "exporting attestation" in line:
            continue
        of_step = _STEP.match(line)
        by_engine = (
            bool(_ENGINE.search(line))
            or (engine and bool(_ENGINE_WORDS.search(line)))
            or (of_step is not None and of_step.group(1) in engine_steps)
            or (after_summary and of_step is None)
        )
        after_summary = after_summary and of_step is not None
        out.append((line, by_engine))
    return out


def error_lines(text: str, buildkit_only: bool = False, engine: bool = False) -> list[str]:
    """The error lines of bake's output; with `buildkit_only`, none of the engine's push."""
    return [line for line, by_engine in classify(text, engine) if not (buildkit_only and by_engine)]


def engine_failure(text: str, engine: bool) -> str | None:
    """When every error line of a failed bake is the engine's push's: its last, in the
    registry's words (the engine's second push alone failed; BuildKit's push did not)."""
    lines = classify(text, engine)
    if not lines or not all(by_engine for _, by_engine in lines):
        return None
    return compatspec.strip_step(lines[-1][0])


def detect(text: str, hosts: Iterable[str], engine: bool = False) -> Rejection | None:
    """The known rejection in a failed push's error text, if BuildKit's push met one.
    `engine`: bake on this builder also pushes through the engine (see `classify`)."""
    hosts = list(dict.fromkeys(hosts))
    for line in error_lines(text, buildkit_only=True, engine=engine):
        for rx, profile in RULES:
            if rx.search(line):
                host = next((h for h in hosts if h in line), None)
                if host is None and len(hosts) == 1:
                    host = hosts[0]
                if host:
                    return Rejection(host, profile, compatspec.strip_step(line))
    return None
