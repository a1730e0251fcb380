"""Read, merge and export the JSONL shards the engine writes.

One output dir per machine (`--shard i/N`) or one shared dir: every shard file is
`shard-K-of-N.jsonl` next to a `fingerprint.json`. Merging checks that all dirs hold the
same run (equal fingerprints, equal N), that no id appears twice, and orders documents by
their global index, so a merged corpus does not depend on how the work was split.
Export writes parquet files that plain `load_dataset("parquet", data_files=...)` reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from metasynth_hf.errors import ConfigError
from metasynth_hf.scaffold.records import RECORD_FIELDS, Record
from metasynth_hf.scaffold.store import FINGERPRINT_FILE

_SHARD = re.compile(r"shard-(\d{5})-of-(\d{5})\.jsonl$")


def record_features():
    """The datasets Features of a record (one schema for every method)."""
    import datasets

    string = datasets.Value("string")
    list_type = getattr(datasets, "List", None) or datasets.Sequence
    return datasets.Features(
        {
            "id": string, "text": string, "domain": string, "method": string,
            "seed": list_type(string), "topic": string, "num_tokens": datasets.Value("int64"),
            "provenance": string, "instruction": string, "response": string,
        }
    )  # fmt: skip


def read_fingerprint(out_dir: Path) -> str:
    path = Path(out_dir) / FINGERPRINT_FILE
    if not path.is_file():
        raise ConfigError(f"{out_dir} has no {FINGERPRINT_FILE}: it is not a metasynth output dir")
    return json.loads(path.read_text())["fingerprint"]


def shard_files(out_dir: Path) -> list[tuple[int, int, Path]]:
    found = []
    for path in sorted(Path(out_dir).glob("shard-*-of-*.jsonl")):
        match = _SHARD.search(path.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2)), path))
    return found


def iter_shard(path: Path) -> Iterator[Record]:
    """Complete lines only: a torn last line (killed writer) is left for the engine to redo."""
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            yield Record.from_json(raw.decode("utf-8"))


def doc_index(record: Record) -> int:
    return int(record.id.rsplit("-", 1)[1])


def merged_records(out_dirs: Iterable[str | Path]) -> list[Record]:
    """All records of one run from one or more output dirs, checked and in index order."""
    dirs = [Path(d) for d in out_dirs]
    if not dirs:
        raise ConfigError("give at least one output dir to merge")
    prints = {d: read_fingerprint(d) for d in dirs}
    if len(set(prints.values())) > 1:
        listing = ", ".join(f"{d}: {fp}" for d, fp in prints.items())
        raise ConfigError(f"output dirs hold different runs ({listing}); merge only shards of one run")
    counts = {n for d in dirs for _, n, _ in shard_files(d)}
    if len(counts) > 1:
        raise ConfigError(f"shards split N ways with different N {sorted(counts)}; merge one split")
    by_id: dict[str, Record] = {}
    for d in dirs:
        for _, _, path in shard_files(d):
            for record in iter_shard(path):
                if record.id in by_id and by_id[record.id] != record:
                    raise ConfigError(f"document {record.id} appears twice with different text ({path})")
                by_id[record.id] = record
    return sorted(by_id.values(), key=doc_index)


def as_row(record: Record) -> dict[str, Any]:
    return {name: getattr(record, name) for name in RECORD_FIELDS}


def write_parquet(records: list[Record], out_dir: str | Path, *, rows_per_file: int = 50_000) -> list[Path]:
    """`data/train-XXXXX-of-YYYYY.parquet`, the Hub's layout for one `train` split."""
    import datasets

    data_dir = Path(out_dir) / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    for stale in data_dir.glob("train-*.parquet"):
        stale.unlink()
    count = max(1, -(-len(records) // rows_per_file))
    paths = []
    for i in range(count):
        chunk = records[i * rows_per_file : (i + 1) * rows_per_file]
        table = datasets.Dataset.from_list([as_row(r) for r in chunk], features=record_features())
        path = data_dir / f"train-{i:05d}-of-{count:05d}.parquet"
        table.to_parquet(str(path))
        paths.append(path)
    return paths
