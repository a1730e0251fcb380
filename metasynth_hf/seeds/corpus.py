"""Read a real seed corpus into ids and texts: a `datasets` Dataset, local files or a Hub id.

Everything goes through `datasets`, so parquet, JSON Lines and Hub datasets behave alike
(and `HF_HUB_OFFLINE=1` serves Hub ids from the local cache). Problems are reported as
ConfigErrors that name the corpus, the column and the fix, before any model is loaded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metasynth_hf.errors import ConfigError

logger = logging.getLogger(__name__)

CorpusSource = Any  # datasets.Dataset | DatasetDict | str | Path | list of paths


@dataclass(frozen=True)
class Corpus:
    """The usable rows of a seed corpus: parallel tuples of ids and texts."""

    name: str
    ids: tuple[str, ...]
    texts: tuple[str, ...]


def _load(source: CorpusSource, split: str):
    import datasets

    if isinstance(source, datasets.DatasetDict):
        if split not in source:
            raise ConfigError(f"seed corpus: no split {split!r}; its splits are {sorted(source)}; set split")
        return source[split], f"DatasetDict[{split}]"
    if isinstance(source, datasets.Dataset):
        return source, source.info.dataset_name or "Dataset"
    if isinstance(source, datasets.IterableDataset):
        raise ConfigError(
            "seed corpus: an IterableDataset cannot be indexed; materialise the rows you want "
            "first, e.g. Dataset.from_list(list(stream.take(100_000)))"
        )
    # paths, a list of them, or a Hub id: the reader every stage shares (corpus/load.py)
    from metasynth_hf.corpus.load import load_corpus as load_any

    name = str(source) if isinstance(source, str | Path) else ", ".join(map(str, source))
    return load_any(source, column=None, split=split, what="seed corpus"), name


def load_corpus(
    source: CorpusSource,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    split: str = "train",
    max_docs: int | None = None,
    min_chars: int = 1,
    max_chars: int | None = None,
) -> Corpus:
    """Rows with a text of at least `min_chars` characters, texts cut to `max_chars`.

    Ids come from `id_column`, else `row-<index>` (the row's index before filtering, so
    they do not shift when `min_chars` changes).
    """
    dataset, name = _load(source, split)
    columns = list(dataset.column_names or [])
    for field, column in (("text_column", text_column), ("id_column", id_column)):
        if column is not None and column not in columns:
            raise ConfigError(
                f"seed corpus {name}: no column {column!r}; its columns are {columns}; "
                f"set {field} to the column that holds the {field.split('_')[0]}"
            )
    if max_docs is not None:
        dataset = dataset.select(range(min(max_docs, len(dataset))))
    texts = dataset[text_column]
    raw_ids = dataset[id_column] if id_column else [f"row-{i}" for i in range(len(texts))]
    ids: list[str] = []
    kept: list[str] = []
    for row, (doc_id, text) in enumerate(zip(raw_ids, texts, strict=True)):
        if text is None:
            continue
        if not isinstance(text, str):
            raise ConfigError(
                f"seed corpus {name}: column {text_column!r} holds {type(text).__name__} "
                f"values (row {row}); set text_column to a column of strings"
            )
        text = text.strip()
        if len(text) < min_chars:
            continue
        ids.append(str(doc_id))
        kept.append(text[:max_chars] if max_chars else text)
    if len(set(ids)) != len(ids):
        raise ConfigError(f"seed corpus {name}: id_column {id_column!r} has duplicate ids")
    if len(kept) < 2:
        raise ConfigError(
            f"seed corpus {name}: only {len(kept)} row(s) with at least {min_chars} characters "
            f"in column {text_column!r}; topic-aware seeds need a real corpus"
        )
    logger.info("seed corpus %s: %d of %d rows usable", name, len(kept), len(texts))
    return Corpus(name=name, ids=tuple(ids), texts=tuple(kept))
