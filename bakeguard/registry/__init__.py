"""The registry protocol: reading manifests and blobs over the OCI distribution API, and
writing an index under a tag, the way docker does it.

- Every manifest request accepts OCI index/manifest and Docker list/manifest types
  (distribution answers "OCI index found, but accept header does not support OCI indexes"
  to a client that omits the OCI index type).
- Credentials from config.json (`auths`, `credsStore`, `credHelpers`), basic auth and the
  bearer token flow (realm/service/scope), answered on the registry's 401; never logged. An
  `auth` entry docker could not read either is no credentials, with a warning. A 401 says
  whether there were no credentials or they were refused, a 403 that the account lacks the
  rights; each with its fix (AccessDenied).
- Credentials and tokens kept per host (auth.Keyring, containerd's and docker's rule): a
  request and each of its redirects carry only their own host's; a challenge is answered
  with the challenging host's own credentials, or none; a Bearer realm only when https (http
  for a plain-HTTP registry), else an error naming it, nothing sent.
- HTTP/1.1 from bakeguard.registry.transport (the standard library's http.client, kept-alive
  connections used again only while in step); redirects followed to http(s) only; every
  body read up to a cap (manifest 4 MiB as containerd's, token 1 MiB, error 64 KiB).
- TLS with the system CAs plus `<certs dir>/HOST/ca.crt` (default /etc/docker/certs.d,
  BAKEGUARD_CERTS_DIR for tests); plain HTTP for loopback registries and those the engine
  lists as insecure, after HTTPS failed, as docker does.
- One deadline, `budget` seconds from the start (`start`, or the first request), bounds
  every wait of every request: connecting, the TLS handshake, each read (the transport's
  sockets keep to it) and the pauses between retries. Retries (tenacity): 429 honouring
  Retry-After, 5xx and, for tags just pushed, 404, while the deadline allows; no answer at
  all (Unreachable) twice more at most, quickly. No retry on 401/403/4xx. tenacity is
  imported only once a request has failed.

Every answer is read by `wire` into `manifests`' frozen types, checked against its digest
and the OCI spec's shape; a malformed one is `Malformed`, a RegistryError (exit 3).

Modules: `client` (the protocol) on `transport` (HTTP/1.1, its deadlines in `timed`) with
`auth` (challenges answered per host), `credentials` (docker's), `hosts`, `proxy` and `pacing`
(the retry rules); `errors`; `wire` and `manifests` (what answers say); `verify` proves what a
tag holds (`entries`: what each entry of its index is) and `verdict` words it; `tagstate` says
it after a failed push;
`attest` reads and matches each platform's attestations; `trace` logs each request under
--guard-verbose.
"""

from bakeguard.registry.client import Registry
from bakeguard.registry.credentials import Credentials, Secret
from bakeguard.registry.errors import AccessDenied, NotYet, RegistryError, Unreachable
from bakeguard.registry.manifests import Manifest
from bakeguard.registry.wire import Malformed

__all__ = [
    "AccessDenied",
    "Credentials",
    "Malformed",
    "Manifest",
    "NotYet",
    "Registry",
    "RegistryError",
    "Secret",
    "Unreachable",
]
