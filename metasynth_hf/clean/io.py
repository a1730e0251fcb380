"""Write a cleaned corpus (the input comes from `corpus.load.load_corpus`).

Input is one memory-mapped `datasets.Dataset` (all files together: duplicates are found
across shards and lanes). Output layout, loadable with `load_dataset(DIR)`:

    DIR/data/train-00000-of-0000N.parquet   kept records, every input column
    DIR/removed.parquet                     removed records + clean_rule, clean_detail
    DIR/clean_report.json                   counts per rule and settings (written last)
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path

from metasynth_hf.clean.pipeline import CleanResult
from metasynth_hf.corpus.files import CLEAN_REPORT_FILE as REPORT_FILE
from metasynth_hf.corpus.files import REMOVED_FILE
from metasynth_hf.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = ["DATA_DIR", "REMOVED_FILE", "REPORT_FILE", "prepare_out_dir", "write_result"]
DATA_DIR = "data"


def prepare_out_dir(out: Path, overwrite: bool, *, check_only: bool = False) -> None:
    """Refuse to mix a new result with an old one unless told to replace it.

    `check_only` (before the long pass) touches nothing: a run that fails later leaves no
    empty folder that would block its own rerun, and `--overwrite` removes the old result
    only once the new one is ready to be written.
    """
    old = [out / DATA_DIR, out / REMOVED_FILE, out / REPORT_FILE]
    present = [p for p in old if p.exists() and not (p.is_dir() and not any(p.iterdir()))]
    if present and not overwrite:
        raise ConfigError(
            f"{out} already holds a cleaned corpus ({present[0].name}); pass --overwrite or another --out"
        )
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder")
    if check_only:
        return
    for item in (p for p in old if p.exists()):
        shutil.rmtree(item) if item.is_dir() else item.unlink()
    (out / DATA_DIR).mkdir(parents=True, exist_ok=True)


def write_result(
    result: CleanResult,
    out: Path,
    *,
    max_rows_per_shard: int = 100_000,
    overwrite: bool = False,
    metadata_from: Iterable[str | Path] = (),
) -> list[Path]:
    """Write the kept rows (`corpus.shards.write_corpus`, with the run metadata of the input
    folder), removed.parquet and clean_report.json (last: marks completion)."""
    import datasets

    kept, removed = result.kept, result.removed
    if isinstance(kept, list):
        kept, removed = datasets.Dataset.from_list(kept), datasets.Dataset.from_list(removed)
    from metasynth_hf.corpus.shards import write_corpus

    prepare_out_dir(out, overwrite)
    paths = write_corpus(kept, out, rows_per_file=max_rows_per_shard, metadata_from=metadata_from)
    removed.to_parquet(str(out / REMOVED_FILE))
    (out / REPORT_FILE).write_text(json.dumps(result.report, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %d kept shard(s), %d removed records to %s", len(paths), len(removed), out)
    return paths
