"""Platform strings as OCI writes them, normalized so that equal platforms compare equal:
linux/arm64 = linux/arm64/v8, linux/arm = linux/arm/v7, linux/amd64 = linux/amd64/v1."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence

from bakeguard.errors import UsageError

DEFAULT_VARIANT = {"arm": "v7"}
DROP_VARIANT = {("arm64", "v8"), ("amd64", "v1")}


def normalize(platform: str) -> str:
    parts = [p.strip().lower() for p in platform.split("/") if p.strip()]
    if not parts:
        return platform
    os_, arch, variant = (parts + ["", ""])[:3]
    if arch in ("aarch64",):
        arch = "arm64"
    if arch in ("x86_64", "x86-64"):
        arch = "amd64"
    if not variant:
        variant = DEFAULT_VARIANT.get(arch, "")
    if (arch, variant) in DROP_VARIANT:
        variant = ""
    return "/".join(p for p in (os_, arch, variant) if p)


def from_oci(p: Mapping[str, object]) -> str:
    """An OCI descriptor's / image config's platform as a normalized string."""
    parts = [str(p.get(k) or "") for k in ("os", "architecture", "variant")]
    return normalize("/".join(x for x in parts if x))


def is_attestation(descriptor: Mapping[str, object]) -> bool:
    ann = descriptor.get("annotations") or {}
    if isinstance(ann, Mapping) and ann.get("vnd.docker.reference.type") == "attestation-manifest":
        return True
    plat = descriptor.get("platform") or {}
    return isinstance(plat, Mapping) and plat.get("os") == "unknown"


def suffix(platform: str, template: str) -> str:
    """A tag suffix for one platform: "-{os}-{arch}{variant}" gives -linux-arm-v7."""
    os_, arch, variant = (normalize(platform).split("/") + ["", ""])[:3]
    return template.format(os=os_, arch=arch, variant=f"-{variant}" if variant else "")


SUFFIX_FIELDS = ("os", "arch", "variant")
SUFFIX_OPTION = "--guard-split-suffix"
# what the distribution spec allows in a tag, and in the last part of a repository name (where
# a suffix lands when the reference names no tag)
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
REPO_PART = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_SUFFIX_CHARS = re.compile(r"[A-Za-z0-9_.-]*")
SUFFIX_FIX = (
    "use the placeholders {os}, {arch} and {variant} with letters, digits, '_', '.' and '-', "
    "e.g. -{os}-{arch}{variant} (the default)"
)


def check_suffix(template: str, source: str = SUFFIX_OPTION) -> None:
    """The split's per-platform tag suffix, checked before anything runs: a template of the
    known placeholders and characters a tag allows, naming at least one of them (without one,
    every platform would be pushed to one and the same tag)."""
    if not template:
        raise UsageError(
            f"{source} is empty: every platform would be pushed to the final tag itself",
            SUFFIX_FIX,
        )
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as e:
        raise UsageError(f"{source} {template!r} is not a valid template: {e}", SUFFIX_FIX) from e
    named = []
    for literal, name, spec, conversion in parts:
        if not _SUFFIX_CHARS.fullmatch(literal):
            bad = "".join(sorted({c for c in literal if not _SUFFIX_CHARS.fullmatch(c)}))
            raise UsageError(f"{source} {template!r}: {bad!r} cannot be part of a tag", SUFFIX_FIX)
        if name is None:
            continue
        if name not in SUFFIX_FIELDS or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "")
            shown += (f":{spec}" if spec else "") + "}"
            raise UsageError(
                f"{source} {template!r}: unknown placeholder {shown}; "
                "the placeholders are {os}, {arch} and {variant}",
                SUFFIX_FIX,
            )
        named.append(name)
    if not named:
        raise UsageError(
            f"{source} {template!r} names no placeholder: every platform would get the same tag",
            SUFFIX_FIX,
        )


def check_split_tags(template: str, target: str, ref: str, platforms: Sequence[str]) -> None:
    """The per-platform tags a split on the docker driver pushes for one target (`ref` and
    each platform's suffix), checked before the bake: one per platform, each a valid tag."""
    option = f"{SUFFIX_OPTION} {template!r}"
    made: dict[str, list[str]] = {}
    for p in platforms:
        made.setdefault(suffix(p, template), []).append(normalize(p))
    for sfx, same in made.items():
        if len(same) > 1:
            raise UsageError(
                f"{option} gives the platforms {', '.join(same)} of target {target} one "
                f"per-platform tag, {ref}{sfx}",
                "add the placeholder that tells them apart ({os}, {arch}, {variant}), "
                "e.g. -{os}-{arch}{variant} (the default)",
            )
    name = ref.partition("@")[0]
    last = name.rsplit("/", 1)[-1]
    longest = max(made, key=len)
    if ":" in last:
        tag = last.rpartition(":")[2] + longest
        if not TAG.fullmatch(tag):
            why = "longer than 128 characters" if len(tag) > 128 else "not a valid tag"
            raise UsageError(
                f"{option} makes the per-platform tag {name}{longest} of target {target}: "
                f"{tag!r} is {why}",
                "shorten the suffix (or the tag); a tag is at most 128 letters, digits, "
                "'_', '.' and '-'",
            )
    elif not REPO_PART.fullmatch(last + longest):
        raise UsageError(
            f"{option} makes {name}{longest} for target {target}, whose reference names no "
            f"tag: {last + longest!r} is not a valid repository name",
            "give the target a tag (name:tag), or use lowercase letters, digits and "
            "single separators in the suffix",
        )
