"""The registry, read (and an index written) over the OCI distribution API: `client` (the
protocol) on `transport` (HTTP/1.1) with `auth` (docker's credentials) and `hosts`;
`verify` proves what a tag holds, `tagstate` says it after a failed push."""

from bakeguard.registry.auth import Credentials, Secret
from bakeguard.registry.client import Registry
from bakeguard.registry.errors import AccessDenied, Manifest, NotYet, RegistryError, Unreachable

__all__ = [
    "AccessDenied",
    "Credentials",
    "Manifest",
    "NotYet",
    "Registry",
    "RegistryError",
    "Secret",
    "Unreachable",
]
