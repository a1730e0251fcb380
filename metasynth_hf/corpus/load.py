"""`load_corpus`: any corpus as a `datasets.Dataset`, read the same way by every stage.

A generate output dir (its `data/*.parquet`, else its shards with the one torn-line rule of
`shards.iter_shard`), a cleaned folder, a parquet/jsonl/json/arrow file or folder of them
(`files.local_corpus_files` decides which files are the corpus), a list of those, or a Hub
dataset id. Stats, clean, the comparison's real text, MetaSynth-Instruct's sources, training
data and seed corpora all call this.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metasynth_hf.corpus.files import CLEAN_REPORT_FILE, REMOVED_FILE, local_corpus_files
from metasynth_hf.corpus.shards import shard_files
from metasynth_hf.errors import ConfigError

logger = logging.getLogger(__name__)


def looks_like_a_path(source: str) -> bool:
    """`./x`, `/x`, `~/x`, `a/b/c` or `x.parquet`: a mistyped path, never a Hub id."""
    return source.startswith((".", "/", "~")) or source.count("/") > 1 or bool(Path(source).suffix)


def _from_shards(run_dir: Path, files: list[str]) -> Any:
    """A run not exported yet: its shards merged in index order (mixed runs refused), or, in a
    folder of shard files without a run's fingerprint, the files in name order. Torn last
    lines are dropped either way (`iter_shard`)."""
    import datasets

    from metasynth_hf.corpus.shards import as_row, iter_shard, merged_records, record_features
    from metasynth_hf.corpus.store import FINGERPRINT_FILE

    if (run_dir / FINGERPRINT_FILE).is_file():
        records = merged_records([run_dir])
    else:
        records = [record for path in files for record in iter_shard(Path(path))]
    return datasets.Dataset.from_list([as_row(r) for r in records], features=record_features())


def _from_hub(source: str, split: str, hub_config: str | None, what: str) -> Any:
    """`source` is no local path: a Hub dataset id (from the cache under HF_HUB_OFFLINE=1), or
    a mistyped path; either way a failure is one line saying which."""
    import datasets
    from huggingface_hub import constants

    if looks_like_a_path(source):
        raise ConfigError(
            f"{what} {source!r}: no such file or folder (it looks like a path); give an existing "
            "corpus folder, a parquet/jsonl file, or a Hub dataset id"
        )
    logger.info("%s is not a local path; loading it from the Hub", source)
    try:
        return datasets.load_dataset(source, hub_config, split=split)
    except (OSError, ValueError, ConnectionError) as exc:
        offline = " (HF_HUB_OFFLINE=1: only datasets already in the cache load)" if constants.HF_HUB_OFFLINE else ""
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        raise ConfigError(
            f"{what} {source!r}: no such file or folder, and not a loadable Hub dataset{offline} ({detail})"
        ) from exc


def _from_files(sources: list[Path], what: str) -> Any:
    """Several local files or folders as one corpus, in the order given (one format)."""
    missing = [str(p) for p in sources if not p.exists()]
    if missing:
        raise ConfigError(f"{what}: {missing} do not exist; give existing files or folders")
    parts = [local_corpus_files(p) for p in sources]
    builders = {builder for builder, _ in parts}
    if len(builders) != 1:
        raise ConfigError(f"{what}: {[str(p) for p in sources]} mix formats ({sorted(builders)}); give one at a time")
    builder, files = builders.pop(), [f for _, fs in parts for f in fs]
    logger.info("reading %d %s file(s) from %d sources", len(files), builder, len(sources))
    return _read_files(builder, files)


def load_corpus(
    source: str | Path | Sequence[str | Path],
    *,
    column: str | None = "text",
    split: str = "train",
    hub_config: str | None = None,
    what: str = "corpus",
) -> Any:
    """`source` as a `datasets.Dataset` (local files memory-mapped); `column` must exist in it.

    A list of paths is one corpus made of all of them, in order. `what` names the argument
    in errors (`--reference`, `instruct.source`, ...)."""
    if isinstance(source, str | Path):
        dataset, name = _from_one(source, split, hub_config, what), str(source)
    else:
        dataset = _from_files([Path(p).expanduser() for p in source], what)
        name = ", ".join(str(p) for p in source)
    if len(dataset) == 0:
        raise empty_corpus_error(name, what)
    if column is not None and column not in dataset.column_names:
        raise ConfigError(
            f"{what} {name!r}: no {column!r} column (columns: {dataset.column_names}); "
            "name the column that holds the documents (--text-column / text_column)"
        )
    return dataset


def _from_one(source: str | Path, split: str, hub_config: str | None, what: str) -> Any:
    """One local file or folder (a run, a cleaned folder, files), else a Hub id."""
    path = Path(source).expanduser()
    if not path.exists():
        return _from_hub(str(source), split, hub_config, what)
    builder, files = local_corpus_files(path)
    logger.info("reading %d %s file(s) from %s", len(files), builder, path)
    if path.is_dir() and files == [str(f) for _, _, f in shard_files(path)]:
        return _from_shards(path, files)
    if builder == "parquet" and not _parquet_rows(files):  # `datasets` fails on it with a riddle
        raise empty_corpus_error(str(source), what)
    return _read_files(builder, files)


def _parquet_rows(files: list[str]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def empty_corpus_error(source: str | Path, what: str = "corpus") -> ConfigError:
    """One line for a corpus with no documents: for a cleaned folder, what removed them (from its
    clean_report.json) and the fix; else, that documents must be generated first."""
    import json

    folder = Path(source).expanduser()
    report_path = folder / CLEAN_REPORT_FILE
    try:
        report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else None
    except (OSError, ValueError):
        report = None
    if not isinstance(report, dict):
        return ConfigError(
            f"{what} {str(source)!r} holds no documents; generate some first (`metasynth generate --out "
            f"{source}`), or point at a corpus that has documents"
        )
    from metasynth_hf.clean.report import empty_fix, removal_reasons

    return ConfigError(
        f"{what} {str(source)!r} holds no documents: `metasynth clean` removed all "
        f"{report.get('input_documents', '?')} ({removal_reasons(report) or 'no rule named'}; see {report_path}); "
        f"{empty_fix(report, str(folder / REMOVED_FILE))}"
    )


def _read_files(builder: str, files: list[str]) -> Any:
    """Local corpus files of one format as one Dataset (arrow files memory-mapped as they are)."""
    import datasets

    if builder == "arrow":
        return datasets.concatenate_datasets([datasets.Dataset.from_file(f) for f in files])
    return datasets.load_dataset(builder, data_files=files, split="train")
