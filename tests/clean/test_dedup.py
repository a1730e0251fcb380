"""Exact and near-duplicate removal on planted copies; unrelated documents survive."""

from __future__ import annotations

import random

import pytest

from metasynth_hf.clean import CleanConfig, clean_corpus
from tests.clean.textgen import corpus, edit, shingle_jaccard


def dedup_only(**near) -> CleanConfig:
    """Only the two dedup rules on, so nothing else can explain a removal."""
    return CleanConfig.all_off().model_copy(
        update={
            "exact": CleanConfig().exact,
            "near": CleanConfig().near.model_copy(update=near),
        }
    )


def test_exact_duplicates_after_normalisation_are_removed_first_copy_kept():
    docs = corpus(20, seed=1)
    copy = dict(docs[3], id="copy-of-3", text="  " + docs[3]["text"].upper().replace(" ", "  \n"))
    result = clean_corpus(docs + [copy], CleanConfig.all_off().model_copy(update={"exact": CleanConfig().exact}))
    assert [r["id"] for r in result.removed] == ["copy-of-3"]
    assert result.removed[0]["clean_rule"] == "dedup.exact"
    assert "doc-3" in result.removed[0]["clean_detail"]
    assert len(result.kept) == 20
    assert result.counts == {"dedup.exact": 1}


def test_near_duplicates_found_at_threshold_and_unrelated_kept():
    rng = random.Random(7)
    docs = corpus(200, seed=2)
    planted = []
    for source in (5, 50, 120):
        text = edit(docs[source]["text"], rng, words=3)
        assert shingle_jaccard(text, docs[source]["text"]) > 0.85  # truly above the threshold
        planted.append({**docs[source], "id": f"near-{source}", "text": text})
    result = clean_corpus(docs + planted, dedup_only(threshold=0.8))
    removed = {r["id"]: r for r in result.removed}
    assert set(removed) == {"near-5", "near-50", "near-120"}
    assert all(r["clean_rule"] == "dedup.near" for r in removed.values())
    assert "doc-50" in removed["near-50"]["clean_detail"]
    assert len(result.kept) == 200  # no unrelated document was taken for a duplicate


@pytest.mark.parametrize(("threshold", "expect_removed"), [(0.5, True), (0.9, False)])
def test_threshold_decides_moderately_edited_copies(threshold, expect_removed):
    rng = random.Random(3)
    docs = corpus(50, seed=4)
    text = edit(docs[10]["text"], rng, words=12)
    similarity = shingle_jaccard(text, docs[10]["text"])
    assert 0.6 < similarity < 0.8, similarity  # between the two thresholds
    result = clean_corpus(docs + [{"id": "edited", "text": text}], dedup_only(threshold=threshold))
    assert ("edited" in {r["id"] for r in result.removed}) is expect_removed
    assert len(result.kept) >= 50


def test_shingle_size_changes_what_counts_as_near():
    rng = random.Random(11)
    docs = corpus(30, seed=5)
    text = edit(docs[0]["text"], rng, words=8)
    loose = clean_corpus(docs + [{"id": "e", "text": text}], dedup_only(threshold=0.7, shingle_size=1))
    strict = clean_corpus(docs + [{"id": "e", "text": text}], dedup_only(threshold=0.7, shingle_size=9))
    assert [r["id"] for r in loose.removed] == ["e"]
    assert strict.removed == []


def test_removed_document_does_not_stand_for_a_cluster():
    """A near copy of a document removed by another rule is judged on its own."""
    docs = corpus(10, seed=6)
    bad = dict(docs[0], id="bad", text=docs[0]["text"] + "\n\nAs an AI language model, I hope this helps.")
    rng = random.Random(1)
    fine = dict(docs[0], id="fine", text=edit(docs[0]["text"], rng, words=2))
    config = dedup_only().model_copy(update={"artefacts": CleanConfig().artefacts})
    result = clean_corpus([bad, fine] + docs[1:], config)
    assert {r["id"]: r["clean_rule"] for r in result.removed} == {"bad": "artefacts.ai_phrase"}
    assert "fine" in {r["id"] for r in result.kept}


def test_exact_without_normalisation_keeps_case_variants_and_streams():
    from metasynth_hf.clean import Cleaner, iter_clean

    docs = corpus(3, seed=9)
    upper = dict(docs[0], id="upper", text=docs[0]["text"].upper())
    config = CleanConfig.all_off().model_copy(
        update={"exact": CleanConfig().exact.model_copy(update={"normalize": False})}
    )
    stream = iter_clean(iter(docs + [upper, dict(docs[1], id="same")]), Cleaner(config))
    verdicts = {record["id"]: verdict for record, verdict in stream}
    assert verdicts["upper"] is None
    assert verdicts["same"].rule == "dedup.exact"


def test_lsh_shape_is_configurable_and_reported():
    from metasynth_hf.commands.clean import build_config
    from metasynth_hf.errors import ConfigError

    result = clean_corpus(corpus(5, seed=1), dedup_only(bands=16, rows=8))
    assert result.report["near_dedup_lsh"]["bands"] == 16
    assert clean_corpus(corpus(5, seed=1), dedup_only()).report["near_dedup_lsh"]["bands"] == 14
    with pytest.raises(ConfigError, match="set both bands and rows"):
        build_config(None, ["near.bands=16"], [])
    with pytest.raises(ConfigError, match="must not exceed num_perm"):
        build_config(None, ["near.bands=20", "near.rows=10"], [])
