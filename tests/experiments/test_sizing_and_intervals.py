"""Corpora compared at equal size, and 95% intervals that separate what differs and contain the estimate."""

from __future__ import annotations

import random

from metasynth_hf.metrics.config import MetricsConfig
from metasynth_hf.metrics.intervals import subsample_intervals
from metasynth_hf.metrics.lexical import lexical_stats
from metasynth_hf.metrics.sizing import cut_to_tokens, equal_size

WORDS = [f"w{i}" for i in range(400)]


def words(n: int) -> int:
    return len(n.split())


def test_every_corpus_is_cut_to_the_smallest_token_count():
    corpora = {"long": ["a b c"] * 4, "short": ["x y z", "u v"], "mid": ["p q r s"] * 2}
    cut, budget = equal_size(corpora, words)
    assert budget == 5 and {name: sum(map(words, texts)) for name, texts in cut.items()} == {
        "long": 5,
        "short": 5,
        "mid": 5,
    }
    assert cut["mid"] == ["p q r s", "p"]  # whole documents first, the last one cut at a word
    assert cut_to_tokens(["one two three"], 0, words) == []
    # documents longer than the budget still leave two documents to compare
    cut, budget = equal_size({"tiny": ["a b", "c d"], "long": ["x " * 50, "y " * 50]}, words)
    assert budget == 4 and cut["long"] == ["x x", "y y"]


def _corpus(seed: int, vocabulary: list[str], docs: int = 40, length: int = 60) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(vocabulary) for _ in range(length)) for _ in range(docs)]


def test_intervals_contain_the_estimate_and_separate_different_corpora():
    config = MetricsConfig()
    varied, narrow = _corpus(0, WORDS), _corpus(1, WORDS[:30])
    out = {}
    for name, texts in (("varied", varied), ("narrow", narrow)):
        lex = lexical_stats(texts, max_n=config.ngram_max_n, repetition_n=config.self_repetition_n)
        estimates = {k: lex[k] for k in ("compression_ratio", "ngram_diversity_1")}
        out[name] = (estimates, subsample_intervals(texts, estimates, config=config, rounds=60, seed=0))
    for estimates, intervals in out.values():
        for key, (low, high) in intervals.items():
            assert low <= estimates[key] <= high, key
    (_, varied_ci), (_, narrow_ci) = out["varied"], out["narrow"]
    assert varied_ci["ngram_diversity_1"][0] > narrow_ci["ngram_diversity_1"][1]  # apart
    assert varied_ci["compression_ratio"][1] < narrow_ci["compression_ratio"][0]
    twin = _corpus(2, WORDS)  # another draw from the varied corpus's distribution
    estimate = lexical_stats(twin, max_n=config.ngram_max_n)["ngram_diversity_1"]
    same = subsample_intervals(twin, {"ngram_diversity_1": estimate}, config=config, rounds=60, seed=0)
    a, b = varied_ci["ngram_diversity_1"], same["ngram_diversity_1"]
    assert a[0] <= b[1] and b[0] <= a[1]  # two draws from one distribution overlap


def test_too_small_a_corpus_gets_no_interval():
    assert subsample_intervals(["a b", "c d", "e f"], {"compression_ratio": 1.0}, config=MetricsConfig()) == {}
