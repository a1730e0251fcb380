"""95% intervals for every corpus-level metric, by subsampling documents (Politis & Romano 1994).

Why not the plain bootstrap: a resample drawn with replacement repeats documents, and every
diversity metric reads repeats as redundancy (n-grams seen twice, a nearest neighbour at distance
0, a gzip window that compresses the copy), so bootstrap replicates are biased low and their
intervals need not even contain the estimate. Subsamples drawn *without* replacement have no
copies. Each of `rounds` subsamples keeps `fraction` of the documents; the interval is the
estimate minus the scaled 97.5% and 2.5% quantiles of the subsample deviations from their mean,
the deviations scaled by sqrt(m / n) (the usual root-n rate):

    [theta_n - sqrt(m/n) * (q_97.5 - mean_m),  theta_n - sqrt(m/n) * (q_2.5 - mean_m)]

Centring on the subsamples' mean, not on theta_n, removes the shift that the smaller size
itself causes in length-dependent metrics (compression ratio, n-gram diversity, Vendi). Metrics
with intervals of their own keep them: Task2Vec (over probe batches) and homogenization (a mean
of per-document scores, bootstrapped over documents).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping

import numpy as np

from metasynth_hf.metrics import embedding_metrics as em
from metasynth_hf.metrics.config import MetricsConfig
from metasynth_hf.metrics.lexical import lexical_stats

logger = logging.getLogger(__name__)

_LEXICAL = ("compression_ratio", "ngram_diversity", "self_repetition")


def _lexical(texts: list[str], config: MetricsConfig) -> dict[str, float | int | None]:
    lex = lexical_stats(
        texts,
        max_n=config.ngram_max_n,
        repetition_n=config.self_repetition_n,
        reference_compatible=config.reference_compatible,
        batch_docs=config.batch_docs,
    )
    out = {k: lex[k] for k in _LEXICAL}
    for n in range(1, min(config.ngram_max_n, 4) + 1):
        out[f"ngram_diversity_{n}"] = lex[f"ngram_diversity_{n}"]
    return out


def _embedding(emb: np.ndarray, ref_emb: np.ndarray | None, config: MetricsConfig, with_mauve: bool) -> dict:
    out = {
        "remote_clique": em.remote_clique(emb),
        "chamfer_distance": em.chamfer_distance(emb),
        "vendi_score": em.vendi_score(emb),
    }
    if with_mauve and ref_emb is not None:
        out["mauve"] = em.mauve_score(
            emb,
            ref_emb,
            max_docs=config.mauve_max_docs,
            seed=config.seed,
            num_redo=config.mauve_kmeans_num_redo,
            max_iter=config.mauve_kmeans_max_iter,
        )["value"]
    return out


def subsample_intervals(
    texts: list[str],
    estimates: dict[str, float | None],
    *,
    embeddings: np.ndarray | None = None,
    reference_embeddings: np.ndarray | None = None,
    config: MetricsConfig,
    rounds: int = 100,
    mauve_rounds: int = 30,
    fraction: float = 0.5,
    seed: int = 0,
) -> dict[str, list[float]]:
    """metric -> [low, high] for the metrics in `estimates` this module can recompute.

    `embeddings` must be row-aligned with `texts` (all documents embedded); MAUVE, which runs
    k-means per round, uses its own, smaller number of rounds.
    """
    n = len(texts)
    m = max(2, round(n * fraction))
    if n < 4 or m >= n:
        return {}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    aligned = embeddings is not None and len(embeddings) == n

    def record(values: Mapping[str, float | None]) -> None:
        for key, value in values.items():
            if key in estimates and value is not None and math.isfinite(value):
                draws.setdefault(key, []).append(float(value))

    for r in range(rounds):
        idx = np.sort(rng.choice(n, size=m, replace=False))
        record(_lexical([texts[i] for i in idx], config))
        if aligned:
            assert embeddings is not None  # `aligned` says so
            record(_embedding(embeddings[idx], reference_embeddings, config, with_mauve=r < mauve_rounds))
    scale = math.sqrt(m / n)
    out: dict[str, list[float]] = {}
    for key, values in draws.items():
        estimate = estimates.get(key)
        if estimate is None or len(values) < 10:
            continue
        arr = np.asarray(values)
        centre = arr.mean()
        low_q, high_q = np.quantile(arr, [0.025, 0.975])
        out[key] = [round(estimate - scale * (high_q - centre), 6), round(estimate - scale * (low_q - centre), 6)]
    return out


def add_intervals(
    report: dict,
    texts: list[str],
    *,
    embeddings: np.ndarray | None,
    reference_embeddings: np.ndarray | None,
    config: MetricsConfig,
    rounds: int,
    log: Callable[[str], None] | None = None,
) -> None:
    """Put `ci95` (and how it was made) on every metric of `report` that lacks an interval."""
    metrics = report["metrics"]
    estimates = {k: v.get("value") for k, v in metrics.items() if not v.get("ci95")}
    found = subsample_intervals(
        texts,
        estimates,
        embeddings=embeddings,
        reference_embeddings=reference_embeddings,
        config=config,
        rounds=rounds,
        seed=config.seed,
    )
    for key, interval in found.items():
        metrics[key]["ci95"] = interval
        metrics[key]["ci_method"] = f"subsampling, {rounds} half-size subsamples without replacement"
    if log is not None:
        log(f"{report['name']}: intervals for {len(found)} metrics")
