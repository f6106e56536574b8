"""The docker CLI plugin form: `bakeguard --guard-install-plugin` writes `docker-bakeguard` into
the user's cli-plugins folder, so that `docker bakeguard ARGS` = `bakeguard ARGS`."""

from __future__ import annotations

import json

from bakeguard import __version__

METADATA = {
    "SchemaVersion": "0.1.0",
    "Vendor": "bakeguard",
    "Version": __version__,
    "ShortDescription": "docker buildx bake, guarded and verified",
}


def plugin_main(argv: list[str]) -> int:
    if argv[:1] == ["docker-cli-plugin-metadata"]:
        print(json.dumps({**METADATA, **project_url()}))
        return 0
    if argv[:1] == ["bakeguard"]:  # docker runs `docker-bakeguard bakeguard ARGS`
        argv = argv[1:]
    from bakeguard.cli import main

    return main(argv)


def project_url() -> dict[str, str]:
    """The plugin's URL: the project's own, as its package metadata declares it (docker shows
    it in `docker info`); none when the project declares none."""
    from importlib import metadata

    try:
        urls = metadata.metadata("bakeguard").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return {}
    for entry in urls:
        _label, _, url = entry.partition(",")
        if url.strip():
            return {"URL": url.strip()}
    return {}
