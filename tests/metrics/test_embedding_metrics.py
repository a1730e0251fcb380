"""Closed forms and faiss paths against brute force, Vendi against its package, MAUVE by its properties.

The brute-force remote clique and chamfer distance follow the definitions `diversity` 0.3 uses
(row means with the self zero; nearest other document); that package itself is not installed
(0.3 needs transformers < 5), so no equality with it is claimed.
"""

from __future__ import annotations

import numpy as np
import pytest
import vendi_score.vendi as vendi
from sklearn.metrics.pairwise import cosine_distances

from metasynth_hf.metrics import embedding_metrics as em
from metasynth_hf.metrics.config import CorpusError
from metasynth_hf.metrics.embeddings import embed_corpus


def brute_remote_clique(x):
    """Mean cosine distance, row means including the self zero (the definition diversity 0.3 uses)."""
    return np.mean(np.mean(cosine_distances(x), axis=1))


def brute_chamfer(x):
    """Mean cosine distance to the nearest other document, by brute force."""
    d = cosine_distances(x)
    return np.mean(np.min(d + np.eye(len(d)) * 1e9, axis=1))


def random_cases():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 16)).astype(np.float32)
    dup = np.concatenate([base[:10], base[:10], base[:3] * 2.5])  # duplicates and scaled copies
    clustered = rng.normal(size=(5, 16))[rng.integers(0, 5, 60)] + 0.05 * rng.normal(size=(60, 16))
    return {"gaussian": base, "duplicates": dup, "clustered": clustered.astype(np.float32)}


@pytest.fixture(scope="module")
def corpus_embeddings(varied, template, reference_docs, unicode_docs, long_docs, tiny_config):
    config = tiny_config
    return {
        "varied": embed_corpus(varied, config),
        "template": embed_corpus(template, config),
        "reference": embed_corpus(reference_docs, config),
        "unicode": embed_corpus(unicode_docs, config),  # includes an empty document
        "long": embed_corpus(long_docs, config),  # truncated to the model's 256 word pieces
    }


@pytest.mark.parametrize("case", ["gaussian", "duplicates", "clustered"])
def test_closed_forms_equal_brute_force(case):
    x = random_cases()[case]
    n = len(x)
    assert em.remote_clique(x) * (n - 1) / n == pytest.approx(brute_remote_clique(x), abs=1e-6)
    assert em.remote_clique_reference(x) == pytest.approx(round(float(brute_remote_clique(x)), 3), abs=1e-3)
    assert em.chamfer_distance(x) == pytest.approx(brute_chamfer(x), abs=1e-6)
    assert em.vendi_score(x) == pytest.approx(vendi.score_X(x), rel=1e-5)
    assert em.vendi_score(x) == pytest.approx(vendi.score_dual(x), rel=1e-5)


def test_chamfer_of_duplicates_is_zero_and_chunks_agree():
    x = random_cases()["duplicates"]
    assert em.nearest_other_similarity(x)[:10] == pytest.approx(np.ones(10), abs=1e-6)
    assert em.nearest_other_similarity(x, chunk=7) == pytest.approx(em.nearest_other_similarity(x))


@pytest.mark.slow
def test_real_embeddings_equal_brute_force(corpus_embeddings):
    for x in corpus_embeddings.values():
        assert em.remote_clique_reference(x) == pytest.approx(round(float(brute_remote_clique(x)), 3), abs=1e-3)
        assert round(em.chamfer_distance(x), 3) == pytest.approx(round(float(brute_chamfer(x)), 3), abs=1e-3)
        assert em.vendi_score(x) == pytest.approx(vendi.score_X(x), rel=1e-4)


def test_identical_documents_have_minimum_diversity():
    x = np.tile(np.arange(1, 9, dtype=np.float32), (6, 1))
    assert em.remote_clique(x) == pytest.approx(0.0, abs=1e-9)
    assert em.chamfer_distance(x) == pytest.approx(0.0, abs=1e-6)
    assert em.vendi_score(x) == pytest.approx(1.0)


def test_too_few_rows_raise():
    with pytest.raises(CorpusError, match="n >= 2"):
        em.remote_clique(np.ones((1, 4)))
    with pytest.raises(CorpusError, match="n >= 2"):
        em.vendi_score(np.zeros((0, 4)))


def test_mauve_is_one_for_the_same_distribution_and_ranks_template_below_varied(corpus_embeddings):
    pytest.importorskip("mauve")  # GPL mauve-text: only with the [mauve] extra
    p, q = corpus_embeddings["varied"], corpus_embeddings["reference"]
    ours = em.mauve_score(p, q, seed=5)
    assert 0.0 < ours["value"] < 1.0 and ours["sample_size"] == {"corpus": len(p), "reference": len(q)}
    assert em.mauve_score(q, q, seed=5)["value"] == pytest.approx(1.0, abs=1e-6)  # a corpus against itself
    template = em.mauve_score(corpus_embeddings["template"], q, seed=5)["value"]
    assert template < ours["value"]  # the repetitive corpus is further from real text
    assert em.mauve_score(p, q, seed=5)["value"] == ours["value"]  # seeded: reproducible
    sampled = em.mauve_score(p, q, seed=5, max_docs=20)
    assert sampled["sample_size"] == {"corpus": 20, "reference": 20}


def test_without_mauve_installed_the_report_skips_it_with_a_note(corpus_embeddings, tiny_config, monkeypatch):
    import builtins

    from metasynth_hf.metrics.report import _embedding_entries

    real_import = builtins.__import__

    def no_mauve(name, *args, **kwargs):
        if name == "mauve":
            raise ImportError("No module named 'mauve'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mauve)
    metrics: dict = {}
    config = tiny_config.model_copy(update={"metrics": ("remote_clique", "mauve")})
    _embedding_entries(
        corpus_embeddings["varied"], corpus_embeddings["reference"], config, set(config.metrics), metrics
    )
    assert metrics["mauve"]["value"] is None and "pip install 'metasynth-hf[mauve]'" in metrics["mauve"]["note"]
    assert metrics["remote_clique"]["value"] > 0
