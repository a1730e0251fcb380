"""Homogenization: mean pairwise ROUGE-L F1 between documents (Padmakumar & He 2023). Lower = more diverse.

Matches `diversity.homogenization_score(measure="rougel")`, which scores every ordered pair with
`rouge_score` (pure-Python LCS, ~50 ms per pair of 400-word documents: days at 60k documents).
Here: the same tokenizer (lower-case, runs of [a-z0-9]), ROUGE-L F1 = 2 LCS / (|a| + |b|) (equal
to rouge_score's 2PR/(P+R), and symmetric, so each unordered pair once), LCS by rapidfuzz's
bit-parallel algorithm with tokens mapped to code points. Corpora above `sample` documents are
scored on a seeded random sample, with a bootstrap 95% CI over documents.

Deliberate difference: the package returns 1.0 (maximal homogeneity) when every pair scores 0,
a guard meant for identical documents that fires for totally dissimilar ones; we return 0.0.
`homogenization_reference` reproduces the package's value, guard and rounding included.
"""

from __future__ import annotations

import logging
import re

import numpy as np

from metasynth_hf.errors import missing_dependency
from metasynth_hf.metrics.config import CorpusError
from metasynth_hf.metrics.corpus import Texts, num_documents, take

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"[a-z0-9]+")
_MAX_CODEPOINT = 0x110000


def rouge_tokens(text: str) -> list[str]:
    """rouge_score's default tokenizer without stemming: lower-case, maximal [a-z0-9] runs."""
    return _TOKEN.findall(text.lower())


def _as_sequences(docs: list[list[str]]) -> list:
    """Tokens as one code point each, so rapidfuzz compares strings at full speed."""
    vocab: dict[str, int] = {}
    coded = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in docs]
    if len(vocab) < _MAX_CODEPOINT:
        return ["".join(map(chr, doc)) for doc in coded]
    return coded  # rare: more distinct tokens than code points; rapidfuzz hashes the ints


def rougel_matrix(texts: list[str], workers: int = -1) -> np.ndarray:
    """Symmetric matrix of pairwise ROUGE-L F1 (the diagonal holds self-scores, 1 or 0)."""
    try:
        from rapidfuzz.distance import LCSseq
        from rapidfuzz.process import cdist
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_dependency("rapidfuzz", "metrics") from exc
    tokens = [rouge_tokens(t) for t in texts]
    seqs = _as_sequences(tokens)
    lcs = cdist(seqs, seqs, scorer=LCSseq.similarity, dtype=np.int32, workers=workers)
    lengths = np.array([len(t) for t in tokens], dtype=np.float64)
    denom = lengths[:, None] + lengths[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(denom > 0, 2.0 * lcs / denom, 0.0)
    return scores


def _mean_offdiag(scores: np.ndarray) -> float:
    n = len(scores)
    return float((scores.sum() - np.trace(scores)) / (n * (n - 1)))


def bootstrap_ci(scores: np.ndarray, rounds: int, seed: int) -> tuple[float, float] | None:
    """Percentile 95% CI of the mean off-diagonal score under resampling documents.

    A resample with multiplicities w scores sum_{i != j} w_i w_j S_ij / sum_{i != j} w_i w_j,
    i.e. all pairs of distinct drawn documents, computed for all rounds with one matrix product.
    """
    if rounds <= 0:
        return None
    n = len(scores)
    off = scores - np.diag(np.diag(scores))
    rng = np.random.default_rng(seed)
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(rounds)])
    weights = weights.astype(np.float64)
    numer = np.einsum("bi,bi->b", weights @ off, weights)
    denom = weights.sum(axis=1) ** 2 - (weights**2).sum(axis=1)
    values = numer[denom > 0] / denom[denom > 0]
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def homogenization(texts: Texts, *, sample: int = 1000, seed: int = 0, bootstrap_rounds: int = 200) -> dict:
    """Mean pairwise ROUGE-L F1; exact when the corpus has at most `sample` documents."""
    n = num_documents(texts)
    if n < 2:
        raise CorpusError(f"homogenization compares documents pairwise; got {n}, pass at least 2")
    exact = n <= sample
    if exact:
        indices = list(range(n))
    else:
        rng = np.random.default_rng(seed)
        indices = sorted(rng.choice(n, size=sample, replace=False).tolist())
    scores = rougel_matrix(take(texts, indices))
    value = _mean_offdiag(scores)
    result = {
        "value": value,
        "sample_size": len(indices),
        "seed": seed,
        "exact": exact,
        "ci95": None if exact else bootstrap_ci(scores, bootstrap_rounds, seed),
    }
    if exact:
        result["reference_value"] = _reference_from_scores(scores)
    return result


def _reference_from_scores(scores: np.ndarray) -> float:
    n = len(scores)
    per_doc = (scores.sum(axis=1) - np.diag(scores)) / (n - 1)
    corpus = float(per_doc.sum())
    if corpus == 0:  # the package's guard: all-zero similarity is reported as 1.0
        corpus += n
    return round(corpus / n, 3)


def homogenization_reference(texts: list[str]) -> float:
    """The value `diversity.homogenization_score(texts)` prints (ROUGE-L, rounded, with its guard)."""
    if len(texts) < 2:
        raise CorpusError("homogenization compares documents pairwise; pass at least 2")
    return _reference_from_scores(rougel_matrix(list(texts)))
