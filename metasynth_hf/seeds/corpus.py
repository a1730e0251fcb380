"""Read a real seed corpus into ids and texts: a `datasets` Dataset, local files or a Hub id.

Everything goes through `datasets`, so parquet, JSON Lines and Hub datasets behave alike
(and `HF_HUB_OFFLINE=1` serves Hub ids from the local cache). Problems are reported as
ConfigErrors that name the corpus, the column and the fix, before any model is loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metasynth_hf.corpus.files import TABULAR_BUILDERS
from metasynth_hf.errors import ConfigError

logger = logging.getLogger(__name__)

_BUILDERS = TABULAR_BUILDERS

CorpusSource = Any  # datasets.Dataset | DatasetDict | str | Path | list of paths


@dataclass(frozen=True)
class Corpus:
    """The usable rows of a seed corpus: parallel tuples of ids and texts."""

    name: str
    ids: tuple[str, ...]
    texts: tuple[str, ...]


def _local_files(source: str | Path | Sequence[str | Path]) -> list[Path] | None:
    items = [source] if isinstance(source, str | Path) else list(source)
    paths = [Path(p).expanduser() for p in items]
    if not all(p.exists() for p in paths):
        missing = [str(p) for p in paths if not p.exists()]
        if isinstance(source, str) and not source.startswith((".", "/", "~")) and Path(source).suffix not in _BUILDERS:
            return None  # not a local path: a Hub id such as "org/name"
        raise ConfigError(f"seed corpus: file(s) {missing} do not exist; give existing files")
    files: list[Path] = []
    for path in paths:
        found = [f for f in sorted(path.rglob("*")) if f.suffix in _BUILDERS] if path.is_dir() else [path]
        files += found
    if not files:
        raise ConfigError(f"seed corpus: no {', '.join(sorted(_BUILDERS))} files under {[str(p) for p in paths]}")
    return files


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
    if isinstance(source, str | Path):  # one path or Hub id: the reader every stage shares
        from metasynth_hf.corpus.load import load_corpus as load_any

        return load_any(source, column=None, split=split, what="seed corpus"), str(source)
    files = _local_files(source)
    if files is None:
        name = str(source)
        try:
            return datasets.load_dataset(name, split=split), name
        except (FileNotFoundError, ConnectionError, ValueError) as exc:
            raise ConfigError(
                f"seed corpus {name!r}: could not load it as a local path or Hub dataset "
                f"({type(exc).__name__}: {exc}); give parquet/jsonl files, a datasets.Dataset, "
                "or a Hub id that is reachable or cached (HF_HUB_OFFLINE=1 uses the cache only)"
            ) from exc
    kinds = {_BUILDERS.get(f.suffix) for f in files}
    if len(kinds) != 1 or None in kinds:
        raise ConfigError(
            f"seed corpus: files {[str(f) for f in files]} must all be one of "
            f"{sorted(_BUILDERS)}, one format at a time"
        )
    data_files = [str(f) for f in files]
    return datasets.load_dataset(kinds.pop(), data_files=data_files, split="train"), data_files[0]


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
