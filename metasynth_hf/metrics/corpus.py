"""Corpora as the metrics see them: a list of strings or a `datasets.Dataset` with a text column.

Metrics stream over batches so a memory-mapped Arrow dataset of 25M tokens never has to sit in
Python objects at once; sampled metrics fetch only the rows they draw.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
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


def _data_files(path: Path) -> tuple[str, list[str]]:
    from metasynth_hf.corpus.files import local_corpus_files
    from metasynth_hf.errors import ConfigError

    try:
        return local_corpus_files(path)
    except ConfigError as exc:
        raise CorpusError(str(exc)) from exc


def _load_from_hub(spec: str, split: str):
    """`spec` is no local path: a Hub dataset id, or a mistyped path (say which, in one line)."""
    import datasets
    from huggingface_hub import constants

    looks_local = spec.startswith((".", "/", "~")) or spec.count("/") > 1 or Path(spec).suffix
    if looks_local or constants.HF_HUB_OFFLINE:
        where = "and HF_HUB_OFFLINE=1 rules out the Hub" if constants.HF_HUB_OFFLINE else "(it looks like a path)"
        raise CorpusError(
            f"{spec}: no such file or folder {where}; give an existing corpus folder, a parquet/jsonl "
            "file, or a Hub dataset id (online)"
        )
    logger.info("%s is not a local path; loading it from the Hub", spec)
    try:
        return datasets.load_dataset(spec, split=split)
    except (FileNotFoundError, ConnectionError, ValueError) as exc:
        raise CorpusError(f"{spec}: neither a local path nor a loadable Hub dataset ({exc})") from exc


def load_corpus(spec: str, *, column: str = "text", split: str = "train"):
    """A local folder/file of parquet or jsonl, or a Hub dataset id, as a `datasets.Dataset`."""
    import datasets

    path = Path(spec).expanduser()
    if path.exists():
        kind, files = _data_files(path)
        if kind == "arrow":
            ds = datasets.concatenate_datasets([datasets.Dataset.from_file(f) for f in files])
        else:
            ds = datasets.load_dataset(kind, data_files=files, split="train")
    else:
        ds = _load_from_hub(spec, split)
    if column not in ds.column_names:
        raise CorpusError(
            f"{spec}: no {column!r} column (columns: {ds.column_names}); "
            "pass --text-column with the column holding the documents"
        )
    return ds
