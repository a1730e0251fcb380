"""Lexical metrics against the `diversity` package and against the plain definitions."""

from __future__ import annotations

import gzip
import math
from collections import Counter

import diversity  # reference implementation (dev extra)
import pytest

from metasynth_hf.metrics.config import CorpusError
from metasynth_hf.metrics.lexical import (
    compression_ratio,
    compression_ratio_reference,
    lexical_stats,
    ngram_diversity,
    ngram_diversity_score,
    self_repetition,
)

CORPORA = ["varied", "template", "unicode_docs", "long_docs"]


def _brute_ngram(texts: list[str], n: int) -> float:
    tokens = " ".join(texts).split(" ")
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams)


def _brute_self_repetition(texts: list[str], n: int) -> float:
    per_doc = [{tuple(d.split()[i : i + n]) for i in range(len(d.split()) - n + 1)} for d in texts]
    counts = Counter(g for grams in per_doc for g in grams)
    return sum(math.log(1 + sum(counts[g] - 1 for g in grams)) for grams in per_doc) / len(texts)


@pytest.mark.parametrize("corpus", CORPORA)
def test_values_equal_reference_package(corpus, request):
    texts = request.getfixturevalue(corpus)
    stats = lexical_stats(texts, batch_docs=7)  # small batches: exercise the streaming joins
    assert stats["compression_ratio_reference"] == diversity.compression_ratio(texts)
    assert compression_ratio_reference(texts) == diversity.compression_ratio(texts)
    assert round(stats["ngram_diversity"], 3) == diversity.ngram_diversity_score(texts, 4)
    assert stats["self_repetition"] == pytest.approx(
        diversity.self_repetition_score(texts, verbose=False), rel=1e-12, abs=1e-12
    )


@pytest.mark.parametrize("corpus", CORPORA)
def test_values_equal_definitions(corpus, request):
    texts = request.getfixturevalue(corpus)
    joined = " ".join(texts).encode("utf-8")
    assert compression_ratio(texts) == len(joined) / len(gzip.compress(joined, 9))
    per_n = ngram_diversity(texts, 4)
    for n in range(1, 5):
        assert per_n[n] == pytest.approx(_brute_ngram(texts, n), abs=1e-15)
    assert ngram_diversity_score(texts) == pytest.approx(sum(per_n.values()))
    for n in (1, 2, 4):
        assert self_repetition(texts, n) == pytest.approx(_brute_self_repetition(texts, n), abs=1e-12)
    streamed = lexical_stats(texts, batch_docs=2)
    assert streamed["compression_ratio"] == pytest.approx(compression_ratio(texts), rel=1e-15)
    assert streamed["ngram_diversity_2"] == per_n[2]


def test_identical_documents_are_minimally_diverse(varied):
    same = [varied[0]] * 12
    stats, base = lexical_stats(same), lexical_stats(varied[:12])
    assert stats["compression_ratio"] > base["compression_ratio"]
    assert stats["ngram_diversity"] < base["ngram_diversity"]
    assert stats["self_repetition"] > base["self_repetition"]
    n_tokens = len(" ".join(same).split(" "))
    assert stats["ngram_diversity_1"] == len(set(varied[0].split(" "))) / n_tokens
    assert self_repetition(same) == pytest.approx(diversity.self_repetition_score(same, verbose=False))


def test_empty_and_tiny_corpora_raise_clear_errors():
    with pytest.raises(CorpusError, match="empty"):
        lexical_stats([])
    with pytest.raises(CorpusError, match="at least 4 tokens"):
        lexical_stats(["two words"])
    with pytest.raises(CorpusError, match="empty"):
        self_repetition([])
    one = lexical_stats(["a single document with more than four words in it"])
    assert one["num_documents"] == 1 and one["self_repetition"] == 0.0


def test_double_gzip_is_what_the_package_measures(varied):
    """Documents the deliberate difference: single gzip (ours) vs gzip twice (package)."""
    stats = lexical_stats(varied)
    assert stats["compression_ratio"] > stats["compression_ratio_reference"]
    assert abs(stats["compression_ratio"] - stats["compression_ratio_reference"]) < 0.05
