"""Task2Vec diversity coefficient with the embedded SmolLM2 probe, kept tiny (few tokens)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cosine

from metasynth_hf.metrics.config import CorpusError, MetricsConfig
from metasynth_hf.metrics.task2vec import (
    mean_confidence_interval,
    scaled_cosine_distance,
    task2vec_diversity,
)

TINY = MetricsConfig(task2vec_num_batches=3, task2vec_batch_size=2, task2vec_max_length=12, task2vec_minibatch=2)


def test_distance_is_the_reference_scaled_cosine():
    rng = np.random.default_rng(0)
    h0, h1 = rng.random(50), rng.random(50)
    total = h0 + h1 + 1e-8
    assert scaled_cosine_distance(h0, h1) == pytest.approx(cosine(h0 / total, h1 / total), abs=1e-12)
    assert scaled_cosine_distance(h0, h0) == pytest.approx(0.0, abs=1e-12)


def test_confidence_interval_is_student_t():
    mean, low, high = mean_confidence_interval(np.array([0.1, 0.2, 0.3, 0.4]))
    assert mean == pytest.approx(0.25)
    assert high - mean == pytest.approx(mean - low)
    assert high - mean == pytest.approx(3.182446 * np.std([0.1, 0.2, 0.3, 0.4], ddof=1) / 2, rel=1e-5)


@pytest.mark.slow
def test_identical_documents_score_zero(probe, template):
    """Template below varied text is checked with the whole suite in test_report."""
    same = task2vec_diversity([template[0]] * 6, TINY, probe=probe)
    assert same["value"] == pytest.approx(0.0, abs=1e-9)
    assert same["sample_size"] == {"batches": 3, "sequences_per_batch": 2, "max_length": 12}
    assert same["ci95"][0] <= same["value"] <= same["ci95"][1]
    assert same["seed"] == 0 and same["probe"] == "smollm2"


@pytest.mark.slow
def test_finetuning_restores_the_probe(probe, varied):
    tokenizer, model = probe
    head = model.get_output_embeddings().weight.detach().clone()
    config = TINY.model_copy(update={"task2vec_finetune_epochs": 1, "task2vec_num_batches": 2})
    result = task2vec_diversity(varied, config, probe=probe)
    assert torch_equal(model.get_output_embeddings().weight, head)  # next batch starts clean
    assert 0.0 < result["value"] < 1.0 and result["finetune_epochs"] == 1


def torch_equal(a, b) -> bool:
    return bool((a.detach() == b).all())


def test_needs_two_documents():
    with pytest.raises(CorpusError, match="at least 2"):
        task2vec_diversity(["one"], TINY)  # raises before any model is loaded


@pytest.mark.slow
def test_a_corpus_no_larger_than_a_batch_still_gets_differing_batches(probe, varied):
    config = TINY.model_copy(update={"task2vec_batch_size": 8, "task2vec_num_batches": 3})
    result = task2vec_diversity(varied[:4], config, probe=probe)
    assert result["sample_size"]["sequences_per_batch"] == 2  # not 4 = the whole corpus each time
    assert result["value"] > 0.0 and result["ci95"][0] <= result["value"] <= result["ci95"][1]
