"""Semantic diversity over document embeddings, without n x n matrices.

- remote clique (Cox et al. 2021): mean cosine distance over pairs i != j. For rows x_i,
  sum_{i != j} cos_ij = ||sum_i u_i||^2 - sum_i ||u_i||^2 with u_i = x_i / ||x_i||, so O(n d).
  `diversity` 0.3 defines it with each row averaged over all n entries, its own zero distance
  included, i.e. (n - 1) / n times ours; `remote_clique_reference` gives that value (by that
  definition: the package itself, which needs transformers < 5, is not run here).
- chamfer distance: mean over documents of the cosine distance to the nearest *other* document,
  by exact inner-product search in faiss (k = 2, the self match dropped), O(n^2 d) flops but
  O(n d) memory; the definition of `diversity` 0.3's `chamfer_dist` (tested against brute
  force, not against that package).
- Vendi score (Friedman & Dieng 2023): exp of the entropy of the eigenvalues of K / n, K the
  cosine kernel; those are the eigenvalues of the d x d matrix U^T U / n (`vendi_score.score_dual`).
- MAUVE (Pillutla et al. 2021) through `mauve.compute_mauve(p_features=..., q_features=...)`.
"""

from __future__ import annotations

import logging

import numpy as np

from metasynth_hf.errors import missing_dependency
from metasynth_hf.metrics.config import CorpusError

logger = logging.getLogger(__name__)


def _unit_rows(embeddings: np.ndarray, dtype=np.float64) -> np.ndarray:
    x = np.asarray(embeddings, dtype=dtype)
    if x.ndim != 2 or len(x) < 2:
        raise CorpusError(f"need an (n, d) embedding matrix with n >= 2 documents, got {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)  # zero rows stay zero, as sklearn's normalize


def remote_clique(embeddings: np.ndarray) -> float:
    """Mean pairwise cosine distance over i != j. Higher = more diverse."""
    u = _unit_rows(embeddings)
    n = len(u)
    total = u.sum(axis=0)
    pair_similarity = float(total @ total) - float((u * u).sum())
    return 1.0 - pair_similarity / (n * (n - 1))


def remote_clique_reference(embeddings: np.ndarray) -> float:
    """What `diversity.remote_clique` prints: self-distance included, 3 decimals."""
    n = len(embeddings)
    return round(remote_clique(embeddings) * (n - 1) / n, 3)


def nearest_other_similarity(embeddings: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Cosine similarity of each document to its most similar other document (faiss, exact)."""
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_dependency("faiss-cpu", "metrics") from exc
    u = np.ascontiguousarray(_unit_rows(embeddings, np.float32))
    index = faiss.IndexFlatIP(u.shape[1])
    index.add(u)
    best = np.empty(len(u), dtype=np.float64)
    for start in range(0, len(u), chunk):
        sims, ids = index.search(u[start : start + chunk], 2)
        own = np.arange(start, start + len(ids))[:, None]
        # the self match occupies at most one of the two slots; take the best other one
        other = np.where(ids[:, :1] != own, sims[:, :1], sims[:, 1:2])
        best[start : start + len(ids)] = other[:, 0]
    return best


def chamfer_distance(embeddings: np.ndarray) -> float:
    """Mean cosine distance of each document to its nearest other document. Higher = more diverse."""
    distances = np.clip(1.0 - nearest_other_similarity(embeddings), 0.0, 2.0)
    return float(distances.mean())


def vendi_score(embeddings: np.ndarray) -> float:
    """exp(entropy of eig(K / n)), K the cosine kernel, via the d x d dual. Higher = more diverse."""
    u = _unit_rows(embeddings)
    eig = np.linalg.eigvalsh(u.T @ u / len(u))
    p = eig[eig > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def _sample_rows(x: np.ndarray, max_rows: int, rng: np.random.Generator) -> np.ndarray:
    if len(x) <= max_rows:
        return x
    return x[np.sort(rng.choice(len(x), size=max_rows, replace=False))]


def mauve_score(
    p_embeddings: np.ndarray,
    q_embeddings: np.ndarray,
    *,
    max_docs: int = 5000,
    seed: int = 0,
    num_redo: int = 5,
    max_iter: int = 500,
) -> dict:
    """MAUVE(P, Q) on precomputed features; each side sampled to at most `max_docs` rows."""
    try:
        import mauve
    except ImportError as exc:
        raise missing_dependency("mauve-text", "mauve") from exc
    rng = np.random.default_rng(seed)
    p = _sample_rows(np.asarray(p_embeddings, dtype=np.float32), max_docs, rng)
    q = _sample_rows(np.asarray(q_embeddings, dtype=np.float32), max_docs, rng)
    if len(p) < 2 or len(q) < 2:
        raise CorpusError("MAUVE needs at least 2 documents in the corpus and in the reference")
    out = mauve.compute_mauve(
        p_features=p,
        q_features=q,
        seed=seed,
        kmeans_num_redo=num_redo,
        kmeans_max_iter=max_iter,
        verbose=False,
    )
    return {
        "value": float(out.mauve),
        "sample_size": {"corpus": len(p), "reference": len(q)},
        "seed": seed,
        "num_buckets": int(out.num_buckets),
    }
