"""ROUGE-L homogenization against `diversity.homogenization_score` and `rouge_score`."""

from __future__ import annotations

import diversity
import numpy as np
import pytest
from rouge_score import rouge_scorer

from metasynth_hf.metrics.config import CorpusError
from metasynth_hf.metrics.homogenization import (
    homogenization,
    homogenization_reference,
    rouge_tokens,
    rougel_matrix,
)


def _package(texts):
    return diversity.homogenization_score(texts, verbose=False)


@pytest.mark.parametrize("corpus", ["template", "unicode_docs", "long_docs"])
def test_equals_reference_package(corpus, request):
    texts = request.getfixturevalue(corpus)[:10]
    if corpus == "unicode_docs":  # rouge_score keeps only [a-z0-9] runs; share a few of those
        texts = [*texts, "emoji and caf na and tabs 2 5"]
    expected = _package(texts)  # pure-Python LCS: ~10 s on the long documents, so once
    result = homogenization(texts)
    assert result["exact"] and result["sample_size"] == len(texts) and result["ci95"] is None
    assert result["reference_value"] == expected
    assert homogenization_reference(texts) == expected
    assert abs(result["value"] - expected) <= 0.0005 + 1e-12


def test_pair_scores_equal_rouge_score(varied, unicode_docs):
    texts = varied[:6] + unicode_docs
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    tokenizer = scorer._tokenizer
    matrix = rougel_matrix(texts)
    for i, a in enumerate(texts):
        assert rouge_tokens(a) == tokenizer.tokenize(a)
        for j, b in enumerate(texts):
            if i != j:
                assert matrix[i, j] == pytest.approx(scorer.score(b, a)["rougeL"].fmeasure, abs=1e-12)


def test_identical_documents_score_one_and_disjoint_documents_differ_from_package():
    assert homogenization(["same words here"] * 4)["value"] == pytest.approx(1.0)
    disjoint = ["alpha beta", "gamma delta", "epsilon zeta"]
    assert homogenization(disjoint)["value"] == 0.0
    # the package's guard reports all-zero similarity as maximal homogeneity
    assert homogenization(disjoint)["reference_value"] == _package(disjoint) == 1.0


def test_sampled_path_states_sample_seed_and_ci(varied, template):
    texts = varied + template
    result = homogenization(texts, sample=30, seed=7, bootstrap_rounds=100)
    assert not result["exact"] and result["sample_size"] == 30 and result["seed"] == 7
    low, high = result["ci95"]
    assert low <= result["value"] <= high
    again = homogenization(texts, sample=30, seed=7, bootstrap_rounds=100)
    assert again == result
    exact = homogenization(texts)["value"]
    assert abs(result["value"] - exact) < 0.1


def test_bootstrap_formula_equals_explicit_resampling():
    from metasynth_hf.metrics.homogenization import bootstrap_ci

    rng = np.random.default_rng(0)
    scores = rng.random((9, 9))
    scores = (scores + scores.T) / 2
    low, high = bootstrap_ci(scores, 50, seed=3)
    draws = np.random.default_rng(3)
    values = []
    for _ in range(50):
        idx = draws.integers(0, 9, 9)
        pairs = [scores[a, b] for x, a in enumerate(idx) for y, b in enumerate(idx) if x != y and a != b]
        values.append(np.mean(pairs))
    assert (low, high) == pytest.approx(tuple(np.percentile(values, [2.5, 97.5])))


def test_too_few_documents():
    with pytest.raises(CorpusError, match="at least 2"):
        homogenization(["only one"])
    with pytest.raises(CorpusError, match="at least 2"):
        homogenization([])
