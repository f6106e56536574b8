"""Every invocation of the feature suite (our own definitions) and, when it is present, of the
bake corpus (real public definitions, never committed: see tests/bakecompare.py), planned
offline and compared with what real `docker buildx bake --print` printed for it (expected.json,
recorded on the stack and re-checked there by tests/stack/test_plan_offline.py)."""

from __future__ import annotations

import pytest

from bakeguard.hcl import Refusal
from tests.bakecompare import (
    CORPUS_INDEX,
    FEATURES,
    NO_CORPUS,
    Invocation,
    corpus_dir,
    expected,
    invocations,
    offline,
    outcome,
)

CORPUS_DIR = corpus_dir()
CORPUS = invocations(CORPUS_DIR, CORPUS_INDEX) if CORPUS_DIR else []
FEATURE_CASES = invocations(FEATURES)
RECORDED = {**(expected(CORPUS_DIR) if CORPUS_DIR else {}), **expected(FEATURES)}
needs_corpus = pytest.mark.skipif(CORPUS_DIR is None, reason=NO_CORPUS)


def test_every_feature_was_recorded_from_bake() -> None:
    assert {i.id for i in FEATURE_CASES} <= set(RECORDED)


@needs_corpus
def test_every_corpus_invocation_was_recorded_from_bake() -> None:
    assert {i.id for i in CORPUS} <= set(RECORDED)
    assert len({i.entry for i in CORPUS}) >= 15


def check(inv: Invocation, whole: bool) -> None:
    ours = offline(inv, {})
    if inv.refuse:
        assert isinstance(ours, Refusal) and inv.refuse in str(ours)
        return
    what, detail = outcome(RECORDED[inv.id], ours)
    assert what != "wrong", detail
    if whole:  # each feature is read in full: identical, or bake fails too
        assert what in ("identical", "bake-fails"), detail


@pytest.mark.parametrize("inv", FEATURE_CASES, ids=[i.id for i in FEATURE_CASES])
def test_a_feature_is_planned_as_bake_plans_it(inv: Invocation) -> None:
    check(inv, whole=True)


@needs_corpus
@pytest.mark.parametrize("inv", CORPUS, ids=[i.id for i in CORPUS])
def test_the_offline_plan_of_the_corpus_is_never_silently_wrong(inv: Invocation) -> None:
    check(inv, whole=False)


@needs_corpus
def test_the_corpus_is_planned_as_bake_plans_it() -> None:
    results = [outcome(RECORDED[i.id], offline(i, {}))[0] for i in CORPUS]
    planned = [r for r in results if r != "bake-fails"]
    assert results.count("wrong") == 0
    assert planned.count("identical") / len(planned) >= 0.9
