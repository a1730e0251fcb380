"""Read, merge and export the JSONL shards the engine writes.

One output dir per machine (`--shard i/N`) or one shared dir: every shard file is
`shard-K-of-N.jsonl` next to a `fingerprint.json`. Merging checks that all dirs hold the
same run (equal fingerprints, equal N), that no id appears twice, and orders documents by
their global index, so a merged corpus does not depend on how the work was split.
Export writes parquet files that plain `load_dataset("parquet", data_files=...)` reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from metasynth_hf.corpus.records import RECORD_FIELDS, Record
from metasynth_hf.corpus.store import FINGERPRINT_FILE
from metasynth_hf.errors import ConfigError

_SHARD = re.compile(r"shard-(\d{5})-of-(\d{5})\.jsonl$")


def record_features():
    """The datasets Features of a record (one schema for every method)."""
    import datasets

    string = datasets.Value("string")
    list_type = getattr(datasets, "List", None) or datasets.Sequence
    return datasets.Features(
        {
            "id": string,
            "text": string,
            "domain": string,
            "method": string,
            "seed": list_type(string),
            "topic": string,
            "num_tokens": datasets.Value("int64"),
            "provenance": string,
            "instruction": string,
            "response": string,
        }
    )


def record_schema():
    """The Arrow schema of `record_features()`, without importing datasets (which costs a
    second of every export); `load_dataset("parquet")` reads it back as `record_features()`
    (tests/test_merge_cli.py checks that)."""
    import pyarrow as pa

    string = pa.string()
    return pa.schema(
        [
            ("id", string),
            ("text", string),
            ("domain", string),
            ("method", string),
            ("seed", pa.list_(string)),
            ("topic", string),
            ("num_tokens", pa.int64()),
            ("provenance", string),
            ("instruction", string),
            ("response", string),
        ]
    )


def read_fingerprint(out_dir: Path) -> str:
    path = Path(out_dir) / FINGERPRINT_FILE
    if not path.is_file():
        raise ConfigError(f"{out_dir} has no {FINGERPRINT_FILE}: it is not a metasynth output dir")
    try:
        return str(json.loads(path.read_text())["fingerprint"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not a run fingerprint (no 'fingerprint' key); restore it from the run, "
            "or rerun generate into a fresh folder"
        ) from exc


def shard_files(out_dir: Path) -> list[tuple[int, int, Path]]:
    found = []
    for path in sorted(Path(out_dir).glob("shard-*-of-*.jsonl")):
        match = _SHARD.search(path.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2)), path))
    return found


def iter_shard(path: Path) -> Iterator[Record]:
    """The finished documents of one shard file. The one torn-line rule of every reader: only
    complete lines count (a torn last line of a killed or running writer is left for the
    engine to redo); a complete line that is not a record is an error naming file and line."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.endswith(b"\n"):
                break
            try:
                yield Record.from_json(raw.decode("utf-8"))
            except ValueError as exc:
                raise ConfigError(
                    f"{path}:{number}: not a valid record ({exc}); restore the file, or delete that line "
                    "and the ones after it and rerun generate (they are regenerated from the response cache)"
                ) from exc


def read_shards(out_dir: str | Path) -> list[Record]:
    """Every finished document in an output dir's shard files, in index order."""
    records = [record for _, _, path in shard_files(Path(out_dir)) for record in iter_shard(path)]
    return sorted(records, key=doc_index)


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
                seen = by_id.get(record.id)
                if seen is not None and seen != record:
                    raise ConfigError(_duplicate_message(seen, record, path))
                by_id[record.id] = record
    return sorted(by_id.values(), key=doc_index)


def _duplicate_message(first: Record, second: Record, path: Path) -> str:
    """Say what differs between two copies of one document: the text, or only metadata."""
    if first.text != second.text:
        what = "with different text"
    else:
        fields = [f for f in RECORD_FIELDS if f != "provenance" and getattr(first, f) != getattr(second, f)]
        a, b = first.provenance_dict, second.provenance_dict
        keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
        what = "with the same text, differing only in " + ", ".join(fields + [f"provenance.{k}" for k in keys])
    return (
        f"document {second.id} appears twice in {path.parent} ({path.name}) {what}: two runs wrote the same "
        "shard; keep one copy of each id (or regenerate into a new --out from the response cache)"
    )


def as_row(record: Record) -> dict[str, Any]:
    return {name: getattr(record, name) for name in RECORD_FIELDS}


def _file_names(rows: int, rows_per_file: int) -> list[str]:
    count = max(1, -(-rows // rows_per_file))
    return [f"train-{i:05d}-of-{count:05d}.parquet" for i in range(count)]


@contextlib.contextmanager
def _staged_data(out_dir: str | Path) -> Iterator[Path]:
    """A fresh `data.tmp-PID/` to write an export into, swapped in for `data/` by two renames
    when the block succeeds and removed when it fails: a kill or a full disk during an export
    leaves the previous export (or none), never a partial or empty one, and the new export
    replaces every old file."""
    import shutil

    out = Path(out_dir)
    data_dir, staging, old = out / "data", out / f"data.tmp-{os.getpid()}", out / f"data.old-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
        if data_dir.exists():
            data_dir.rename(old)
        staging.rename(data_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


#: A run's own files, carried with its documents to every folder made from them (merge,
#: clean), so `metasynth push` of that folder can describe the run on the card.
RUN_METADATA = ("fingerprint.json", "metasynth_run.yaml", "summary-*.json")


def carry_run_metadata(sources: Iterable[str | Path], out_dir: str | Path) -> list[Path]:
    """Copy the run files of each generate output dir in `sources` into `out_dir` (a folder that
    is not a run is skipped; a file never replaces itself)."""
    import shutil

    out, copied = Path(out_dir), []
    for source in map(Path, sources):
        if not source.is_dir() or not (source / "fingerprint.json").is_file():
            continue
        for path in sorted(p for pattern in RUN_METADATA for p in source.glob(pattern)):
            target = out / path.name
            if target.exists() and target.resolve() == path.resolve():
                continue
            shutil.copy2(path, target)
            copied.append(target)
    return copied


def write_corpus(
    rows: list[Record] | Iterator[Any] | Any,
    out_dir: str | Path,
    *,
    rows_per_file: int = 50_000,
    metadata_from: Iterable[str | Path] = (),
    num_rows: int | None = None,
) -> list[Path]:
    """The one writer of a corpus folder: `data/train-XXXXX-of-YYYYY.parquet` (the Hub's layout
    for one `train` split), written atomically (`_staged_data`), plus the run metadata of the
    folders in `metadata_from`. `rows` is one of
    - a list of Records (merge, push staging), in the record schema;
    - an iterator of Arrow record batches in the record schema, streamed with `num_rows` of
      them written (generate's export: memory stays flat whatever the corpus size);
    - a `datasets.Dataset` with its own columns (a cleaned corpus), written shard by shard."""
    import pyarrow as pa

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    if isinstance(rows, list):
        batches: Iterator[Any] = iter(
            pa.Table.from_pylist([as_row(r) for r in rows], schema=record_schema()).to_batches()
        )
        total = len(rows)
    elif isinstance(rows, Iterator):
        if num_rows is None:
            raise ValueError("write_corpus: a stream of record batches needs num_rows")
        batches, total = rows, num_rows
    else:  # a datasets.Dataset (memory-mapped; its own columns)
        names = _file_names(len(rows), rows_per_file)
        with _staged_data(out_dir) as staging:
            for i, name in enumerate(names):
                rows.shard(len(names), i, contiguous=True).to_parquet(str(staging / name))
        carry_run_metadata(metadata_from, out_dir)
        return [Path(out_dir) / "data" / name for name in names]
    names = _file_names(total, rows_per_file)
    with _staged_data(out_dir) as staging:
        _write_batches(batches, total, [staging / name for name in names], rows_per_file)
    carry_run_metadata(metadata_from, out_dir)
    return [Path(out_dir) / "data" / name for name in names]


def _write_batches(batches: Iterator[Any], total: int, paths: list[Path], rows_per_file: int) -> None:
    """The first `total` rows of `batches` into `paths`, `rows_per_file` rows each, row groups
    written as the batches come (an empty corpus is one empty file with the schema)."""
    import pyarrow.parquet as pq

    schema = record_schema()
    written, writer, file_rows = 0, None, 0
    for batch in batches:
        while batch.num_rows and written < total:
            if writer is None:
                writer, file_rows = pq.ParquetWriter(paths[written // rows_per_file], schema), 0
            take = min(batch.num_rows, rows_per_file - file_rows, total - written)
            writer.write_batch(batch.slice(0, take).select(list(RECORD_FIELDS)))
            batch, written, file_rows = batch.slice(take), written + take, file_rows + take
            if file_rows == rows_per_file or written == total:
                writer.close()
                writer = None
    if writer is not None:
        writer.close()
    if total == 0:
        pq.write_table(schema.empty_table(), paths[0])


def _json_batches(path: Path, limit: int | None, chunk_bytes: int = 2 << 20) -> Iterator[Any]:
    """Arrow record batches of the first `limit` complete lines of a shard file, parsed by
    Arrow's JSON reader ~2 MB at a time. Not `pyarrow.json.open_json`: its streaming reader
    buffers ahead without bound (peak memory grew with the file: 58 MB for a 53 MB shard);
    chunks keep the export's memory flat whatever the corpus size."""
    import io

    import pyarrow.json as pj

    options = pj.ParseOptions(explicit_schema=record_schema())
    lines: list[bytes] = []
    size, taken = 0, 0
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n") or (limit is not None and taken >= limit):
                break  # a torn last line (killed writer) is left for the engine to redo
            lines.append(raw)
            size, taken = size + len(raw), taken + 1
            if size >= chunk_bytes:
                yield from pj.read_json(io.BytesIO(b"".join(lines)), parse_options=options).to_batches()
                lines, size = [], 0
    if lines:
        yield from pj.read_json(io.BytesIO(b"".join(lines)), parse_options=options).to_batches()


def export_shard(
    path: Path, out_dir: str | Path, limit: int | None = None, *, rows_per_file: int = 50_000
) -> list[Path]:
    """One shard file to `data/*.parquet`, streamed through `write_corpus`: Arrow's JSON reader
    parses it in chunks (no Python per row), so memory does not grow with the corpus (peak RSS
    of `generate` 5,000 vs 50,000 documents: benchmarks/bench_cli_throughput.py). The engine
    writes shards in index order with unique ids: no merge is needed; the first `limit` lines
    are the documents of a run with `num_docs = limit`."""
    with open(path, "rb") as fh:
        lines = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
    total = lines if limit is None else min(lines, limit)
    return write_corpus(_json_batches(path, total), out_dir, rows_per_file=rows_per_file, num_rows=total)
