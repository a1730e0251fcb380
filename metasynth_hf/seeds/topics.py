"""Cheap topic labels for real documents: spherical k-means plus class-based TF-IDF terms.

Why this and not an LLM labeller: the corpus may hold millions of rows, and seed
selection must be deterministic and free. Clusters come from faiss k-means on the
normalised embeddings (fixed seed); each cluster is named by its top terms under
class-based TF-IDF (the BERTopic weighting: a term's frequency in the cluster times
log(1 + average cluster size / the term's corpus frequency)), e.g. "bond, yield, coupon".
Per-document keywords use plain TF-IDF against the same corpus statistics.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from metasynth_hf.errors import missing_dependency

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"[a-z][a-z0-9]*(?:[-'][a-z0-9]+)*")
# Common English function words, kept out of topic labels and seed keywords.
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    either else etc even ever every few for from further get gets got had has have having
    he her here hers him his how however i if in into is it its itself just least less
    like made make makes many may me might more most much must my no nor not now of off
    often on once one only or other others our out over own per rather same she should
    since so some such than that the their them then there these they this those though
    through thus to too two under until up upon us use used uses using very via was we
    well were what when where whether which while who whom whose why will with within
    without would yet you your new way ways given see s t""".split()  # noqa: SIM905
)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of at least 3 characters; stopwords and contractions dropped."""
    return [t for t in _TOKEN.findall(text.lower()) if len(t) >= 3 and "'" not in t and t not in STOPWORDS]


def default_num_topics(num_docs: int) -> int:
    """sqrt(n/2) clusters, between 2 and 64: a few dozen docs per topic on small corpora."""
    return max(2, min(64, round(math.sqrt(num_docs / 2)), num_docs))


def cluster(embeddings: np.ndarray, num_topics: int, seed: int) -> np.ndarray:
    """Cluster id of each row: faiss spherical k-means with a fixed seed."""
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_dependency("faiss-cpu", "metrics") from exc
    kmeans = faiss.Kmeans(
        embeddings.shape[1],
        num_topics,
        niter=25,
        seed=seed % (2**31),
        spherical=True,
        min_points_per_centroid=1,
        max_points_per_centroid=256,
        verbose=False,
    )
    kmeans.train(embeddings)
    _, assignment = kmeans.index.search(embeddings, 1)
    return assignment[:, 0].astype(np.int64)


@dataclass(frozen=True)
class TermStats:
    """Corpus term statistics: document frequencies and term counts per cluster.

    Built in one streaming pass; token lists are not kept (a large corpus would not fit).
    """

    doc_freq: Counter
    num_docs: int
    per_cluster: tuple[Counter, ...]

    def idf(self, term: str) -> float:
        return math.log((1 + self.num_docs) / (1 + self.doc_freq[term])) + 1.0


def term_stats(texts: Sequence[str], assignment: np.ndarray, num_topics: int) -> TermStats:
    doc_freq: Counter = Counter()
    per_cluster: tuple[Counter, ...] = tuple(Counter() for _ in range(num_topics))
    for text, cid in zip(texts, assignment.tolist(), strict=True):
        tokens = tokenize(text)
        doc_freq.update(set(tokens))
        per_cluster[cid].update(tokens)
    return TermStats(doc_freq=doc_freq, num_docs=len(texts), per_cluster=per_cluster)


def _top(weights: dict[str, float], n: int) -> list[str]:
    # Ties broken by the term itself, never by dict order.
    return [t for t, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def label_clusters(stats: TermStats, num_terms: int) -> list[str]:
    """A readable, unique label per cluster from its top class-based TF-IDF terms."""
    corpus: Counter = Counter()
    for counts in stats.per_cluster:
        corpus.update(counts)
    sizes = [sum(c.values()) for c in stats.per_cluster]
    average = sum(sizes) / max(1, sum(1 for s in sizes if s))
    labels: list[str] = []
    for cid, counts in enumerate(stats.per_cluster):
        weights = {t: (c / sizes[cid]) * math.log(1 + average / corpus[t]) for t, c in counts.items()}
        label = ", ".join(_top(weights, num_terms)) or f"topic {cid}"
        labels.append(label if label not in labels else f"{label} (#{cid})")
    return labels


def document_keywords(text: str, stats: TermStats, n: int) -> list[str]:
    """The `n` terms of one document with the highest TF-IDF."""
    counts = Counter(tokenize(text))
    return _top({t: c * stats.idf(t) for t, c in counts.items()}, n)
