"""The split: every platform pushed on its own in ONE bake run from a definition generated from
`bake --print`, then `docker buildx imagetools create` writes each multi-platform tag once.

Per-platform pushes go by digest (`push-by-digest=true,name-canonical=true`) on drivers that
support it; the `docker` driver refuses that, so it pushes per-platform tags TAG-OS-ARCH[-V]
(`--guard-split-suffix`). On that driver an affected buildx runs a second push through the
engine that may fail after BuildKit's own push succeeded, and then bake writes no metadata.
So each platform is confirmed on its own, by the digest BuildKit pushed as bake's output says
(else the engine's local image, which the run says it cannot tell is its own: split.confirm),
in the registry. The final tags are written only when every platform of a target is
confirmed, from this run's digests (bakeguard.metadata), never from the per-platform tags: a
registry may have rewritten those, and every run pushing the same tag shares them
(split.finish).
"""
