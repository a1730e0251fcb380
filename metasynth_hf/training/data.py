"""Load the training corpus: a local MetaSynth corpus, data files, a Hub id or a builder script.

A local directory may be the raw output of `metasynth generate` (its shard files, read by
`corpus.shards.read_shards`, which leaves out a torn last line of a run still going), the output
of `metasynth clean` (`data/train-*.parquet`, loaded by `datasets`' own split patterns, so
`removed.parquet` stays out), or any directory `load_dataset` understands. Sources are written
as TRL writes them (`dataset_name`, or a `datasets:` mixture with optional `fraction` and
`test_split_size`), so a recipe reads the same under `trl sft`. On top of TRL,
a source may be a local directory saved by `save_to_disk`, a single data file, or a directory
holding a `datasets` builder script (run here even on datasets 4+, which no longer runs them).
Every source is reduced to one `text` column: instruction data (MetaSynth-Instruct) is joined
into plain text so it can be mixed into continual pre-training.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

from metasynth_hf.corpus.files import FILE_BUILDERS
from metasynth_hf.errors import ConfigError

logger = logging.getLogger(__name__)

#: Column pairs joined with a blank line when a source has no text column.
PAIR_COLUMNS = (("instruction", "response"), ("prompt", "completion"), ("question", "answer"))


def load_source(
    path: str,
    *,
    name: str | None = None,
    data_dir: str | None = None,
    data_files: Any = None,
    split: str | None = "train",
) -> Any:
    """Load one source; `split=None` returns every split it has (a `DatasetDict`)."""
    import datasets

    local = Path(path).expanduser()
    if data_files is None and local.is_file():
        builder = FILE_BUILDERS.get(local.suffix)
        if builder is None:
            raise ConfigError(f"{local}: unknown data file type; use one of {sorted(FILE_BUILDERS)}")
        path, data_files = builder, [str(local)]
    elif data_files is None and local.is_dir():
        if (local / "dataset_dict.json").is_file() or (local / "state.json").is_file():
            loaded = datasets.load_from_disk(str(local))
            return loaded[split] if split and isinstance(loaded, datasets.DatasetDict) else loaded
        if (local / f"{local.resolve().name}.py").is_file():
            # The project's loader runs builder scripts on every datasets release. Only this
            # explicit choice of source imports the script (and, through it, the generator).
            from metasynth_hf.loading import load_dataset as load_builder

            return load_builder(local, name, split=split)
        # a generate output dir or a cleaned folder: the reader every stage shares
        from metasynth_hf.corpus.load import load_corpus

        rows = load_corpus(local, column=None, what="training data")
        return rows if split else datasets.DatasetDict(train=rows)
    try:
        return datasets.load_dataset(path, name=name, data_dir=data_dir, data_files=data_files, split=split)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"cannot load training data {path!r}: {exc}. Give a local corpus directory, a data "
            "file, a Hub dataset id, or `path: parquet` with `data_files: <glob>`"
        ) from exc


def to_text(dataset: Any, text_field: str, columns: list[str] | None = None) -> Any:
    """Reduce a dataset to one `text_field` column, joining instruction pairs if needed."""
    if columns:
        dataset = dataset.select_columns(columns)
    names = dataset.column_names
    if text_field in names:
        return dataset.select_columns([text_field])
    for first, second in PAIR_COLUMNS:
        if first in names and second in names:

            def join(row: dict, a: str = first, b: str = second) -> dict:
                return {text_field: f"{row[a].strip()}\n\n{row[b].strip()}"}

            return dataset.map(join, remove_columns=names)
    if "messages" in names:

        def flatten(row: dict) -> dict:
            return {text_field: "\n\n".join(m["content"].strip() for m in row["messages"])}

        return dataset.map(flatten, remove_columns=names)
    raise ConfigError(
        f"training data has no {text_field!r} column (columns: {names}); set dataset_text_field, "
        f"or give instruction data as one of {PAIR_COLUMNS} or `messages`"
    )


def mix(parts: list[Any], fractions: list[float | None]) -> Any:
    """Concatenate sources; with fractions, keep the largest mixture that oversamples none.

    Same rule as TRL's `get_dataset`: normalise the fractions, find the biggest total N such
    that every source has at least round(fraction * N) rows, keep that many first rows of each.
    """
    import datasets

    if any(f is not None for f in fractions):
        if any(f is None or f <= 0 for f in fractions):
            raise ConfigError("datasets[].fraction: set a positive fraction on every source or none")
        given = cast("list[float]", fractions)  # every fraction is set: checked just above
        weights = [f / sum(given) for f in given]
        total = min(len(part) / w for part, w in zip(parts, weights, strict=True))
        parts = [part.select(range(min(len(part), round(w * total)))) for part, w in zip(parts, weights, strict=True)]
    return datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]


def load_corpus(script_args: Any, mixture_args: Any, text_field: str, seed: int) -> Any:
    """The train (and, when asked for, held-out) splits as a `DatasetDict` of one text column."""
    import datasets

    if mixture_args.streaming or script_args.dataset_streaming:
        raise ConfigError(
            "streaming: not supported by metasynth train (a 25M-token corpus fits on disk); "
            "remove `streaming`/`dataset_streaming`, or use `trl sft` for streamed data"
        )
    if mixture_args.datasets:
        parts = [
            to_text(
                load_source(d.path, name=d.name, data_dir=d.data_dir, data_files=d.data_files, split=d.split),
                text_field,
                d.columns,
            )
            for d in mixture_args.datasets
        ]
        corpus = datasets.DatasetDict(train=mix(parts, [d.fraction for d in mixture_args.datasets]))
    elif script_args.dataset_name:
        loaded = load_source(script_args.dataset_name, name=script_args.dataset_config, split=None)
        if not isinstance(loaded, datasets.DatasetDict):
            loaded = datasets.DatasetDict(train=loaded)
        if script_args.dataset_train_split not in loaded:
            raise ConfigError(
                f"dataset_train_split: {script_args.dataset_name} has no split "
                f"{script_args.dataset_train_split!r} (splits: {list(loaded)})"
            )
        corpus = datasets.DatasetDict(train=to_text(loaded[script_args.dataset_train_split], text_field))
        if script_args.dataset_test_split in loaded and not mixture_args.test_split_size:
            corpus["test"] = to_text(loaded[script_args.dataset_test_split], text_field)
    else:
        raise ConfigError("no training data: set `dataset_name` or a `datasets:` list in the recipe")
    if mixture_args.test_split_size:
        corpus = corpus["train"].train_test_split(test_size=mixture_args.test_split_size, seed=seed)
    logger.info("corpus: %s", {split: len(rows) for split, rows in corpus.items()})
    return corpus
