"""Platform strings as OCI writes them, normalized so that equal platforms compare equal:
linux/arm64 = linux/arm64/v8, linux/arm = linux/arm/v7, linux/amd64 = linux/amd64/v1."""

from __future__ import annotations

from collections.abc import Mapping

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
