"""Which files of a local folder are the corpus, decided once for every reader.

A generate output dir holds JSONL shards, and after `metasynth merge` (or `generate`, which
exports at the end) the same documents as `data/*.parquet`, next to `hub/` staging, `stats/`
and reports. Reading all of it would count every document twice, so the order is:
`data/*.parquet` (the Hub layout), else the engine's `shard-*-of-*.jsonl`, else the folder's
own parquet, jsonl or json files (one format; `removed.parquet` of a clean is never data).
"""

from __future__ import annotations

from pathlib import Path

from metasynth_hf.errors import ConfigError

#: File suffix -> the `datasets` packaged builder that reads it: the one map every reader uses
#: (each reader accepts the part of it that makes sense for it).
FILE_BUILDERS = {
    ".parquet": "parquet",
    ".jsonl": "json",
    ".json": "json",
    ".csv": "csv",
    ".txt": "text",
    ".arrow": "arrow",
}
#: What a corpus folder or file may be made of (documents with a text column).
BUILDER_BY_SUFFIX = {suffix: FILE_BUILDERS[suffix] for suffix in (".parquet", ".jsonl", ".json", ".arrow", ".csv")}
#: Tabular files with named columns (seed corpora, benchmark files).
TABULAR_BUILDERS = {suffix: FILE_BUILDERS[suffix] for suffix in (".parquet", ".jsonl", ".json", ".csv")}
#: What `metasynth clean` writes beside the kept rows: the removed rows and its report.
REMOVED_FILE, CLEAN_REPORT_FILE = "removed.parquet", "clean_report.json"
NOT_DATA = {REMOVED_FILE}
SKIPPED_DIRS = {"hub", "stats", "removed"}


def local_corpus_files(path: str | Path) -> tuple[str, list[str]]:
    """(datasets builder name, files) of a local corpus file or folder."""
    path = Path(path)
    if path.is_file():
        if path.suffix not in BUILDER_BY_SUFFIX:
            raise ConfigError(f"{path}: expected a .parquet, .jsonl, .json, .arrow or .csv file")
        return BUILDER_BY_SUFFIX[path.suffix], [str(path)]
    if not path.is_dir():
        raise ConfigError(f"{path} does not exist")
    for pattern in ("data/*.parquet", "shard-*-of-*.jsonl"):
        files = sorted(path.glob(pattern))
        if files:
            return BUILDER_BY_SUFFIX[files[0].suffix], [str(p) for p in files]
    found = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and not p.name.startswith(".")
        and p.name not in NOT_DATA
        and not SKIPPED_DIRS & set(p.relative_to(path).parts[:-1])
    )
    for suffix in (".parquet", ".arrow", ".jsonl", ".json", ".csv"):
        files = [p for p in found if p.suffix == suffix]
        if files:
            return BUILDER_BY_SUFFIX[suffix], [str(p) for p in files]
    raise ConfigError(f"{path}: no .parquet, .jsonl, .json, .arrow or .csv corpus files found there")
