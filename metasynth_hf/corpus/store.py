"""Shard files of a run: one JSONL line per finished document, appended in index order.

Lines are written and flushed as documents finish, and fsynced before those documents are
published (group commit: the documents finished by the time of one fsync share it), so a
kill -9 loses at most the documents not yet published and leaves at most one torn last line;
`load` drops it (the document is regenerated, free, from the response cache). `fingerprint.json` guards the folder: a run whose output-
changing settings differ refuses to write there instead of mixing two corpora.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from metasynth_hf.corpus.records import Record
from metasynth_hf.errors import ConfigError

logger = logging.getLogger(__name__)

FINGERPRINT_FILE = "fingerprint.json"


def shard_path(out_dir: Path, index: int, count: int) -> Path:
    return out_dir / f"shard-{index:05d}-of-{count:05d}.jsonl"


def summary_path(out_dir: Path, index: int, count: int) -> Path:
    return out_dir / f"summary-{index:05d}-of-{count:05d}.json"


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def write_text_atomic(path: Path, text: str) -> None:
    """Temp file + rename: readers (other shards, `merge`) never see a half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def check_fingerprint(out_dir: Path, fingerprint: str, fields: dict[str, Any]) -> None:
    """Claim `out_dir` for this fingerprint, or raise ConfigError naming what differs."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"output_dir {out_dir} is a file; give a folder (new or one of this run)")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FINGERPRINT_FILE
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
        except ValueError as exc:
            raise ConfigError(f"{path} is not valid JSON ({exc}); restore it or use another --out") from exc
        if stored.get("fingerprint") == fingerprint:
            return
        old, new = _flatten(stored.get("fields", {})), _flatten(fields)
        differ = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        raise ConfigError(
            f"output dir {out_dir} holds shards of a different run (settings that differ: "
            f"{', '.join(differ[:8]) or 'engine version'}). Use another output_dir, or the "
            "settings of that run to extend or resume it"
        )
    if any(out_dir.glob("shard-*.jsonl")):
        raise ConfigError(f"output dir {out_dir} holds shard files but no {FINGERPRINT_FILE}; use an empty output_dir")
    write_json_atomic(path, {"fingerprint": fingerprint, "fields": fields})


class ShardLock:
    """One writer per shard of an output dir: a second `generate` on the same shard fails at once.

    An exclusive `flock` on `.lock-shard-K-of-N` (released by the kernel when the holder dies,
    kill -9 included, so a crashed run never blocks its own rerun); the file says who holds it.
    Different shards of one run lock different files, so Slurm array tasks never contend.
    """

    def __init__(self, out_dir: Path, index: int, count: int):
        self.path = out_dir / f".lock-shard-{index:05d}-of-{count:05d}"
        self._fh: IO[str] | None = None

    def __enter__(self) -> ShardLock:
        import fcntl
        import socket

        fh = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise ConfigError(
                f"{self.path.parent} is being written by {holder} (this shard is locked by {self.path.name}); "
                "wait for that run to finish or stop it, or use another --out"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            self._fh.close()  # closing releases the lock
            self._fh = None


class ShardFile:
    """Append-only JSONL of one shard, read back on resume."""

    def __init__(self, path: Path):
        self.path = path
        self._fh: IO[str] | None = None

    def load(self, expected_id: Callable[[int], str]) -> list[Record]:
        """Records already written (torn last line dropped); ids must follow `expected_id`."""
        if not self.path.is_file():
            return []
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            logger.warning(
                "%s: dropping a torn last line (%d bytes); it will be regenerated", self.path, len(data) - end
            )
            with self.path.open("r+b") as fh:
                fh.truncate(end)
                fh.flush()
                os.fsync(fh.fileno())
        records: list[Record] = []
        for number, line in enumerate(data[:end].decode("utf-8").splitlines(), start=1):
            try:
                record = Record.from_json(line)
            except ValueError as exc:
                raise ConfigError(
                    f"{self.path}:{number}: not a valid record ({exc}); delete that line and all "
                    "after it, then rerun (they are regenerated from the response cache)"
                ) from exc
            want = expected_id(len(records))
            if record.id != want:
                raise ConfigError(
                    f"{self.path}:{number}: record {record.id!r} where {want!r} belongs; the "
                    "file was edited or mixed with another shard. Restore it or use a new output_dir"
                )
            records.append(record)
        return records

    def write(self, record: Record) -> None:
        """Append one line and hand it to the OS (not yet durable: see `commit`)."""
        if self._fh is None:
            self._fh = self.path.open("a", encoding="utf-8")
        self._fh.write(record.to_json() + "\n")
        self._fh.flush()

    async def commit(self) -> None:
        """Make every line written so far durable: one fsync, in a worker thread."""
        if self._fh is not None:
            await asyncio.to_thread(os.fsync, self._fh.fileno())

    def append(self, record: Record) -> None:
        """`write` + fsync, for callers outside an event loop."""
        self.write(record)
        assert self._fh is not None  # `write` opened it
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def iter_records(out_dir: str | Path) -> Iterator[Record]:
    """Every finished record of a run's output dir, shard by shard (for readers and builders).

    A torn last line (a run killed while writing) is skipped, not an error: the run that
    wrote it regenerates it on resume.
    """
    for path in sorted(Path(out_dir).glob("shard-*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.endswith("\n"):
                    break
                yield Record.from_json(line)
