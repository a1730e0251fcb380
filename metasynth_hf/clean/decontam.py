"""Benchmark decontamination: drop documents sharing word n-grams with evaluation passages.

GPT-3's procedure (Brown et al. 2020, appendix C): 13-gram overlap over lowercased words,
any match marks a document dirty; passages shorter than 13 words match as a whole when they
are at least `min_ngram` words long (shorter ones would match ordinary phrases). Evaluation
sets come from local files (parquet, jsonl/json, csv, txt) or `datasets` ids; each passage is
one field of one row, so a removed document's detail names the set, row and field it leaked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from metasynth_hf.clean.config import DecontaminationConfig, EvalSetConfig
from metasynth_hf.clean.text import Doc, Verdict, WordHasher, passage_hashes
from metasynth_hf.corpus.files import TABULAR_BUILDERS
from metasynth_hf.errors import ConfigError

logger = logging.getLogger(__name__)

_BUILDERS = TABULAR_BUILDERS


def _local_files(path: Path) -> list[Path]:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    files = [f for f in files if f.suffix in _BUILDERS or f.suffix == ".txt"]
    if not files:
        raise ConfigError(f"eval set {path}: no .parquet/.jsonl/.json/.csv/.txt file found there")
    return files


def _rows(cfg: EvalSetConfig) -> list[dict]:
    """The evaluation rows as dicts (evaluation sets are small: thousands of rows)."""
    import datasets

    path = Path(cfg.path)
    if path.exists():
        rows: list[dict] = []
        for file in _local_files(path):
            if file.suffix == ".txt":
                lines = file.read_text(encoding="utf-8").splitlines()
                rows.extend({"text": line} for line in lines if line.strip())
            else:
                data = datasets.load_dataset(_BUILDERS[file.suffix], data_files=str(file), split="train")
                rows.extend(data.to_list())
        return rows
    try:
        loaded = datasets.load_dataset(cfg.path, cfg.config, split=cfg.split)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"eval set {cfg.label}: cannot load {cfg.path!r} as a local path or `datasets` id "
            f"({type(exc).__name__}: {exc}); give a local file or a reachable dataset id"
        ) from exc
    splits = [loaded] if isinstance(loaded, datasets.Dataset) else list(loaded.values())
    return [row for split in splits for row in split.to_list()]


def _passages(cfg: EvalSetConfig, rows: list[dict]) -> list[tuple[str, str]]:
    """(location, text) for every text field of every row: strings and lists of strings."""
    if rows and cfg.fields:
        missing = [f for f in cfg.fields if f not in rows[0]]
        if missing:
            raise ConfigError(f"eval set {cfg.label}: fields {missing} not found; columns are {sorted(rows[0])}")
    out = []
    for i, row in enumerate(rows):
        for name in cfg.fields or row.keys():
            value = row.get(name)
            values = value if isinstance(value, list) else [value]
            for j, item in enumerate(values):
                if isinstance(item, str) and item.strip():
                    where = f"{cfg.label}#{i}.{name}" + (f"[{j}]" if isinstance(value, list) else "")
                    out.append((where, item))
    return out


@dataclass
class _Table:
    """Sorted n-gram hashes of one length, with the passage each came from."""

    hashes: np.ndarray
    owners: np.ndarray


class Decontaminator:
    """Drops documents that share `min_matches` n-grams with any evaluation passage."""

    section = "decontamination"

    def __init__(self, config: DecontaminationConfig, hasher: WordHasher | None = None):
        self.config = config
        self.hasher = hasher or WordHasher()
        self.locations: list[str] = []
        self.set_of: list[str] = []
        self.summary: list[dict] = []
        grouped: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        for eval_set in config.eval_sets:
            self._index(eval_set, grouped)
        self.tables: dict[int, _Table] = {}
        for n, (hash_parts, owner_parts) in grouped.items():
            hashes, owners = np.concatenate(hash_parts), np.concatenate(owner_parts)
            order = np.argsort(hashes, kind="stable")
            self.tables[n] = _Table(hashes[order], owners[order])

    def _index(self, cfg: EvalSetConfig, grouped: dict) -> None:
        passages = _passages(cfg, _rows(cfg))
        used = short = 0
        for location, text in passages:
            words, full = passage_hashes(text, self.config.ngram, self.hasher)
            if words < self.config.min_ngram:
                short += 1
                continue
            hashes = full if words >= self.config.ngram else passage_hashes(text, words, self.hasher)[1]
            owner = np.full(len(hashes), len(self.locations), dtype=np.int32)
            n = min(words, self.config.ngram)
            grouped.setdefault(n, ([], []))[0].append(hashes)
            grouped[n][1].append(owner)
            self.locations.append(location)
            self.set_of.append(cfg.label)
            used += 1
        if not used:
            raise ConfigError(
                f"eval set {cfg.label}: no passage of at least {self.config.min_ngram} words "
                f"in {len(passages)} text fields; check `fields` or lower `min_ngram`"
            )
        self.summary.append({"name": cfg.label, "passages": used, "too_short": short})
        logger.info("eval set %s: %d passages indexed, %d too short", cfg.label, used, short)

    def check(self, doc: Doc) -> Verdict | None:
        hits: list[int] = []
        for n, table in self.tables.items():
            grams = doc.ngrams(n)
            if not len(grams):
                continue
            at = np.searchsorted(table.hashes, grams).clip(max=len(table.hashes) - 1)
            found = table.hashes[at] == grams
            if found.any():
                hits.extend(table.owners[at[found]].tolist())
        if len(hits) < self.config.min_matches:
            return None
        owner = max(set(hits), key=hits.count)
        return Verdict(
            f"decontamination.{self.set_of[owner]}",
            f"{len(hits)} n-gram(s) shared with evaluation passages, most with {self.locations[owner]}",
        )

    def keep(self, doc: Doc) -> None:
        """Stateless."""
