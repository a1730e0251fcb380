"""Document embeddings, computed once per corpus and model, cached on disk.

Every embedding metric (remote clique, chamfer, Vendi, MAUVE, the 2-D map) reads the same
matrix. The cache key is the corpus content hash plus the model id and sequence length, so a
rerun of `metasynth stats` or the builder's stats step never re-encodes a corpus.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from metasynth_hf.errors import missing_dependency
from metasynth_hf.metrics.config import MetricsConfig
from metasynth_hf.metrics.corpus import Texts, fingerprint, iter_batches, num_documents
from metasynth_hf.models import EMBEDDED_EMBEDDING_MODEL, minilm_dir

logger = logging.getLogger(__name__)

#: documents handed to sentence-transformers per call (it sorts each call by length).
ENCODE_CHUNK = 4096


@contextmanager
def cpu_threads(threads: int | None) -> Iterator[None]:
    """Limit torch and BLAS (OpenBLAS/MKL via threadpoolctl) to `threads`; None leaves them be.

    On an oversubscribed machine, worker threads spin against each other: measured on 2 busy
    cores, a small torch matmul ran 14x and a 384x384 eigvalsh 150x slower with 2 threads than 1.
    """
    if threads is None:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(previous)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "metasynth_hf" / "embeddings"


def resolve_embedding_model(name: str) -> str:
    """The embedded default becomes its package directory; anything else goes to sentence-transformers."""
    return str(minilm_dir()) if name == EMBEDDED_EMBEDDING_MODEL else name


@lru_cache(maxsize=2)
def load_encoder(name: str, device: str | None = None, max_seq_length: int | None = None):
    """A SentenceTransformer, loaded once per process."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_dependency("sentence-transformers", "metrics") from exc
    model = SentenceTransformer(resolve_embedding_model(name), device=device)
    if max_seq_length:
        model.max_seq_length = max_seq_length
    return model


def cache_key(corpus_fingerprint: str, config: MetricsConfig) -> str:
    parts = [corpus_fingerprint, config.embedding_model, str(config.embedding_max_seq_length)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _read_cache(path: Path, n: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        array = np.load(path)
    except (OSError, ValueError) as exc:
        logger.warning("embedding cache %s is unreadable (%s); recomputing", path, exc)
        return None
    if array.ndim != 2 or array.shape[0] != n:
        logger.warning("embedding cache %s has shape %s, expected %d rows; recomputing", path, array.shape, n)
        return None
    return array


def encode(texts: Texts, config: MetricsConfig) -> np.ndarray:
    """Embeddings (n, d) float32, in corpus order, streaming over the corpus in chunks."""
    model = load_encoder(config.embedding_model, config.embedding_device, config.embedding_max_seq_length)
    n = num_documents(texts)
    out: np.ndarray | None = None
    start = 0
    for batch in iter_batches(texts, ENCODE_CHUNK):
        vectors = model.encode(
            batch,
            batch_size=config.embedding_batch_size,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32, copy=False)
        if out is None:
            out = np.empty((n, vectors.shape[1]), dtype=np.float32)
        out[start : start + len(batch)] = vectors
        start += len(batch)
        logger.info("embedded %d/%d documents", start, n)
    assert out is not None
    return out


def embed_corpus(texts: Texts, config: MetricsConfig, *, corpus_fingerprint: str | None = None) -> np.ndarray:
    """Cached `encode`: read from `cache_dir` when the same corpus and model were seen before."""
    n = num_documents(texts)
    if not config.use_cache:
        with cpu_threads(config.cpu_threads):
            return encode(texts, config)
    key = cache_key(corpus_fingerprint or fingerprint(texts, config.batch_docs), config)
    directory = Path(config.cache_dir).expanduser() if config.cache_dir else default_cache_dir()
    path = directory / f"{key}.npy"
    cached = _read_cache(path, n)
    if cached is not None:
        logger.info("embeddings from cache %s", path)
        return cached
    with cpu_threads(config.cpu_threads):
        vectors = encode(texts, config)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, vectors)
    os.replace(tmp, path)  # atomic: a killed run never leaves a half-written cache entry
    return vectors
