"""Corpora as the metrics see them: a list of strings or a `datasets.Dataset` with a text column.

Metrics stream over batches so a memory-mapped Arrow dataset of 25M tokens never has to sit in
Python objects at once; sampled metrics fetch only the rows they draw.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from metasynth_hf.metrics.config import CorpusError

logger = logging.getLogger(__name__)

#: A corpus: a sequence of documents, or a datasets.Dataset (its `text` column is read).
Texts = Any


def _is_dataset(texts: Texts) -> bool:
    return hasattr(texts, "column_names") and hasattr(texts, "iter")


def num_documents(texts: Texts) -> int:
    """Number of documents without reading them."""
    return len(texts)


def iter_batches(texts: Texts, batch_size: int, column: str = "text") -> Iterator[list[str]]:
    """Documents in order, `batch_size` at a time."""
    if _is_dataset(texts):
        for batch in texts.select_columns([column]).iter(batch_size=batch_size):
            yield [t if t is not None else "" for t in batch[column]]
        return
    for start in range(0, len(texts), batch_size):
        yield list(texts[start : start + batch_size])


def take(texts: Texts, indices: Sequence[int], column: str = "text") -> list[str]:
    """The documents at `indices` (sorted or not), reading only those rows."""
    if _is_dataset(texts):
        rows = texts.select_columns([column]).select(list(indices))[column]
        return [t if t is not None else "" for t in rows]
    return [texts[i] for i in indices]


def check_corpus(texts: Texts, name: str = "corpus", *, min_docs: int = 2) -> int:
    """Return the document count or raise CorpusError saying what is missing."""
    if isinstance(texts, str):
        raise CorpusError(f"{name}: got one string; pass a list of documents, e.g. [text]")
    n = num_documents(texts)
    if n == 0:
        raise CorpusError(f"{name}: the corpus is empty; pass at least {min_docs} documents")
    if n < min_docs:
        raise CorpusError(f"{name}: {n} document(s); diversity between documents needs at least {min_docs}")
    return n


def fingerprint(texts: Texts, batch_size: int = 2000) -> str:
    """Content hash of the corpus (order-sensitive), the key of the embedding cache."""
    digest = hashlib.sha256()
    for batch in iter_batches(texts, batch_size):
        for text in batch:
            data = text.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
    return digest.hexdigest()[:32]
