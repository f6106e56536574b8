"""The one reader of what a registry sends back: manifests, indexes, image configs and error
bodies, each parsed into frozen types and checked, or refused with `Malformed` (a
RegistryError: verification's exit 3) naming the reference and what is wrong. Nothing a
registry sends reaches the rest of bakeguard as loose JSON.

- Every manifest body is hashed against the digest asked for (a by-digest GET) or announced
  (Docker-Content-Digest on a by-tag GET), as containerd's fetcher does before it uses
  content and regclient does on every pull (types/manifest/manifest.go: "manifest digest
  mismatch"); an image config blob against its descriptor's digest and size.
- A document that names itself one kind and holds another's fields (an index with `config`
  or `layers`, a manifest with `manifests`) is refused as containerd refuses it since the
  ambiguous-document advisory (core/images/image.go, validateMediaType); so is a body whose
  mediaType contradicts the Content-Type (regclient's verifyMT).
- Required fields (the OCI image spec's descriptor, manifest, index and platform; the image
  config's os and architecture) must be there with their type; digests and media types must
  match the spec's grammars (a digest goes into the next request's path); the platform fields
  printed to a terminal may hold no control character. Unknown fields are ignored, as the
  spec requires.
- An error body ({"errors": [{"code", "message", "detail"}]}) is read only for a short,
  escaped line to add to a message; nothing in it can fail the run.
"""

from __future__ import annotations

import json
import re

from bakeguard.refs import Reference
from bakeguard.registry.errors import RegistryError
from bakeguard.registry.manifests import (
    DIGEST,
    HASHES,
    INDEX_TYPES,
    KNOWN_TYPES,
    MANIFEST_TYPES,
    MEDIA_TYPE,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    ImageManifest,
    Index,
    Manifest,
    Platform,
    digest_of,
    valid_digest,
)

MAX_SIZE = 2**63 - 1  # a descriptor's size is an int64
ERROR_TEXT_MAX = 200  # characters of a registry's error message kept for ours


class Malformed(RegistryError):
    """An answer no registry should send: not JSON, the wrong shape, a body that does not
    hash to its digest. Not transient: asking again gets the same bytes."""


class _Bad(Exception):
    """What is wrong, by the field's path (manifests[2].platform); made a Malformed naming
    the reference by the public readers."""


# ------------------------------------------------------------------ reading JSON


def _kind(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    return "a list" if isinstance(v, list) else "an object"


class _Obj:
    """One JSON object's fields, each read as the type it must have; `at` is its path."""

    def __init__(self, v: object, at: str) -> None:
        if not isinstance(v, dict):
            raise _Bad(f"{at or 'the body'} is {_kind(v)}, not an object")
        self.o, self.at = v, at

    def _name(self, key: str) -> str:
        return f"{self.at}.{key}" if self.at else key

    def get(self, key: str, required: bool) -> object:
        """The field's value; None when absent or null (JSON null is absence, as in Go)."""
        v = self.o.get(key)
        if v is None and required:
            raise _Bad(f"{self._name(key)} is {'null' if key in self.o else 'missing'}")
        return v

    def text(self, key: str, required: bool = True, grammar: re.Pattern[str] | None = None) -> str:
        v = self.get(key, required)
        if v is None:
            return ""
        if not isinstance(v, str):
            raise _Bad(f"{self._name(key)} is {_kind(v)}, not a string")
        if grammar is not None and not grammar.fullmatch(v):
            raise _Bad(f"{self._name(key)} is not a valid {_GRAMMAR_NAMES[grammar]}")
        if grammar is None and (not v.isprintable() or len(v) > 128):
            raise _Bad(f"{self._name(key)} holds a control character or is too long")
        return v

    def obj(self, key: str) -> _Obj | None:
        """An optional object field."""
        v = self.get(key, False)
        return None if v is None else _Obj(v, self._name(key))

    def need(self, key: str) -> _Obj:
        """A required object field."""
        return _Obj(self.get(key, True), self._name(key))

    def objects(self, key: str) -> list[_Obj]:
        v = self.get(key, True)
        if not isinstance(v, list):
            raise _Bad(f"{self._name(key)} is {_kind(v)}, not a list")
        return [_Obj(x, f"{self._name(key)}[{i}]") for i, x in enumerate(v)]

    def size(self, key: str) -> int:
        v = self.get(key, True)
        if not isinstance(v, int) or isinstance(v, bool):
            raise _Bad(f"{self._name(key)} is {_kind(v)}, not an integer")
        if not 0 <= v <= MAX_SIZE:
            raise _Bad(f"{self._name(key)} is out of range")
        return v

    def string_map(self, key: str) -> tuple[tuple[str, str], ...]:
        m = self.obj(key)
        if m is None:
            return ()
        for k, v in m.o.items():
            if not isinstance(v, str):
                raise _Bad(f"{m.at}[{json.dumps(k)[:40]}] is {_kind(v)}, not a string")
        return tuple(m.o.items())


_GRAMMAR_NAMES = {DIGEST: "digest", MEDIA_TYPE: "media type"}


def _platform(o: _Obj) -> Platform:
    os_, arch = o.text("os"), o.text("architecture")
    if not os_ or not arch:
        raise _Bad(f"{o._name('os' if not os_ else 'architecture')} is empty")
    return Platform(os_, arch, o.text("variant", required=False))


def _descriptor(o: _Obj) -> Descriptor:
    digest = o.text("digest", grammar=DIGEST)
    if not valid_digest(digest):
        raise _Bad(f"{o._name('digest')} is not a valid {digest.partition(':')[0]} digest")
    plat = o.obj("platform")
    return Descriptor(
        o.text("mediaType", grammar=MEDIA_TYPE),
        digest,
        o.size("size"),
        _platform(plat) if plat is not None else None,
        o.text("artifactType", required=False, grammar=MEDIA_TYPE) or None,
        o.string_map("annotations"),
    )


def _schema_version(o: _Obj) -> None:
    v = o.get("schemaVersion", True)
    if not isinstance(v, int) or isinstance(v, bool):
        raise _Bad(f"schemaVersion is {_kind(v)}, not the number 2")
    if v != 2:
        raise _Bad("schemaVersion is not 2")


def _index(o: _Obj, media_type: str) -> Index:
    _schema_version(o)
    manifests = tuple(_descriptor(d) for d in o.objects("manifests"))
    o.string_map("annotations")
    return Index(media_type, manifests, o.text("artifactType", False, MEDIA_TYPE) or None)


def _image(o: _Obj, media_type: str) -> ImageManifest:
    _schema_version(o)
    config = _descriptor(o.need("config"))
    layers = tuple(_descriptor(d) for d in o.objects("layers"))
    o.string_map("annotations")
    subject = o.obj("subject")
    artifact_type = o.text("artifactType", False, MEDIA_TYPE) or None
    return ImageManifest(
        media_type,
        config,
        layers,
        artifact_type,
        _descriptor(subject) if subject is not None else None,
    )


def _media_type(o: _Obj, content_type: str) -> str:
    """What the document is: its mediaType, else the Content-Type, else what it holds; a
    document of one kind holding another's fields is refused (see the module docstring)."""
    said = o.text("mediaType", required=False, grammar=MEDIA_TYPE)
    header = content_type.partition(";")[0].strip().lower()
    if said and header in KNOWN_TYPES and said != header:
        raise _Bad(f"its mediaType {said} contradicts the Content-Type {header}")
    kind = said or (header if header in KNOWN_TYPES else "")
    if not kind:
        if "manifests" in o.o:
            kind = OCI_INDEX if "config" not in o.o else ""
        elif "config" in o.o:
            kind = OCI_MANIFEST
    if not kind:
        raise _Bad("it names no mediaType, and holds neither manifests nor a config")
    if kind not in KNOWN_TYPES:
        raise _Bad(f"it is a {kind}, neither an image manifest nor an index")
    if "fsLayers" in o.o:
        raise _Bad("it is a schema 1 manifest, which no current docker pushes")
    if kind in INDEX_TYPES and ("config" in o.o or "layers" in o.o):
        raise _Bad(f"it is an index ({kind}) holding a manifest's config or layers")
    if kind in MANIFEST_TYPES and "manifests" in o.o:
        raise _Bad(f"it is a manifest ({kind}) holding an index's manifests")
    return kind


# ------------------------------------------------------------------ digests


def _check_digest(ref: Reference, what: str, body: bytes, digest: str, source: str) -> None:
    if not valid_digest(digest):
        raise Malformed(f"{ref.registry}: the {source} for the {what} of {ref} is not a digest")
    algorithm = digest.partition(":")[0]
    if algorithm not in HASHES:
        raise Malformed(
            f"{ref.registry}: the {what} of {ref} is named by a {algorithm} digest, which "
            "bakeguard cannot check (sha256 and sha512 only)"
        )
    got = digest_of(body, algorithm)
    if got != digest:
        raise Malformed(
            f"{ref.registry}: the {what} of {ref} it sent hashes to {got}, not to the "
            f"{digest} {source}: the registry (or a proxy) changed it or lied about it"
        )


# ------------------------------------------------------------------ the public readers


def _json(ref: Reference, body: bytes, what: str) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise Malformed(f"{ref.registry}: the {what} of {ref} is not JSON") from None


def read_manifest(ref: Reference, body: bytes, content_type: str, announced: str) -> Manifest:
    """A manifest GET's answer for ref: the body checked against the digest asked for (ref's
    own) or announced (`announced`, Docker-Content-Digest; without one, the body's sha256 is
    the digest) and read as an index or an image manifest."""
    if ref.digest:
        _check_digest(ref, "manifest", body, ref.digest, "digest asked for")
        digest = ref.digest
    elif announced.strip():
        digest = announced.strip()
        _check_digest(ref, "manifest", body, digest, "digest it announced (Docker-Content-Digest)")
    else:
        digest = digest_of(body)
    doc = _json(ref, body, "manifest")
    try:
        o = _Obj(doc, "")
        kind = _media_type(o, content_type)
        parsed = _index(o, kind) if kind in INDEX_TYPES else _image(o, kind)
    except _Bad as e:
        raise Malformed(f"{ref.registry}: the manifest of {ref} is malformed: {e}") from None
    return Manifest(kind, digest, parsed, len(body))


def config_platform(ref: Reference, config: Descriptor, body: bytes) -> Platform:
    """The platform an image config blob (ref's manifest's `config`) names, the blob checked
    against the descriptor's digest and size."""
    what = f"config {config.digest}"
    _check_digest(ref, what, body, config.digest, "digest its manifest names")
    if len(body) != config.size:
        raise Malformed(
            f"{ref.registry}: the {what} of {ref} is {len(body)} bytes, not the "
            f"{config.size} its manifest names"
        )
    try:
        return _platform(_Obj(_json(ref, body, what), ""))
    except _Bad as e:
        raise Malformed(f"{ref.registry}: the {what} of {ref} is malformed: {e}") from None


def error_text(body: bytes) -> str:
    """': CODE message' from an error body, or "" when it holds none; bounded, with control
    characters and newlines escaped (it ends up in a terminal or CI log)."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    errors = doc.get("errors") if isinstance(doc, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    if not isinstance(first, dict):
        return ""
    parts = [first.get(k) for k in ("code", "message")]
    text = " ".join(p for p in parts if isinstance(p, str) and p).strip()
    return f": {escape(text, ERROR_TEXT_MAX)}" if text else ""


def escape(text: str, limit: int) -> str:
    """text as one printable line of at most about `limit` characters."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit + 1])
    return out[:limit] + "..." if len(out) > limit else out
