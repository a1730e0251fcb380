"""The cleaning pass: every rule in a fixed order over a stream of records, one decision each.

`Cleaner.judge` is the streaming core (one record in, a Verdict or None out, bounded state);
`iter_clean` streams records; `clean_corpus` takes a list of dicts or a `datasets.Dataset`
and returns the kept and removed records in the same form, with per-rule counts. A Dataset
is never copied into Python objects: only its id and text columns are read, and the result
is `Dataset.select(indices)` over the same Arrow data, so every column survives.
"""

from __future__ import annotations

import logging
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from tqdm.auto import tqdm

from metasynth_hf.clean.artefacts import ArtefactFilter
from metasynth_hf.clean.config import CleanConfig
from metasynth_hf.clean.decontam import Decontaminator
from metasynth_hf.clean.exact import ExactDeduplicator
from metasynth_hf.clean.filters import LengthFilter, RepetitionFilter
from metasynth_hf.clean.language import LanguageFilter
from metasynth_hf.clean.near import NearDeduplicator
from metasynth_hf.clean.report import build_report
from metasynth_hf.clean.text import Doc, Verdict, WordHasher
from metasynth_hf.errors import ConfigError

logger = logging.getLogger(__name__)

RULE_COLUMN = "clean_rule"
DETAIL_COLUMN = "clean_detail"


class Cleaner:
    """Applies the enabled rules in order; the first rule that objects removes the record."""

    def __init__(self, config: CleanConfig | None = None):
        self.config = config or CleanConfig()
        cfg = self.config
        self.hasher = WordHasher()
        self.near: NearDeduplicator | None = None
        self.decontaminator: Decontaminator | None = None
        self.steps: list[Any] = []
        if cfg.exact.enabled:
            self.steps.append(ExactDeduplicator(cfg.exact))
        if cfg.length.enabled:
            self.steps.append(LengthFilter(cfg.length))
        if cfg.artefacts.enabled:
            self.steps.append(ArtefactFilter(cfg.artefacts))
        if cfg.repetition.enabled:
            self.steps.append(RepetitionFilter(cfg.repetition))
        if cfg.language.enabled:
            self.steps.append(LanguageFilter(cfg.language))
        if cfg.decontamination.enabled and cfg.decontamination.eval_sets:
            self.decontaminator = Decontaminator(cfg.decontamination, self.hasher)
            self.steps.append(self.decontaminator)
        if cfg.near.enabled:
            self.near = NearDeduplicator(cfg.near)
            self.steps.append(self.near)
        self.counts: Counter[str] = Counter()
        #: Time in each rule's check; shared analyses (words, hashes) count for the first user.
        self.seconds = cast("dict[str, float]", Counter())  # typeshed's Counter holds ints only
        self.documents = self.kept = self.words_in = self.words_kept = 0
        self._started = time.perf_counter()

    def judge(self, doc_id: str, text: str | None) -> Verdict | None:
        """Decide one record: None keeps it (and registers it with stateful rules)."""
        self.documents += 1
        if text is None or not text.strip():
            self.counts["empty"] += 1
            return Verdict("empty", "no text")
        doc = Doc(doc_id, text, self.hasher)
        clock = time.perf_counter
        for step in self.steps:
            started = clock()
            verdict = step.check(doc)
            self.seconds[step.section] += clock() - started
            if verdict is not None:
                self.counts[verdict.rule] += 1
                self.words_in += len(doc.words)
                return verdict
        for step in self.steps:
            started = clock()
            step.keep(doc)
            self.seconds[step.section] += clock() - started
        self.kept += 1
        self.words_in += len(doc.words)
        self.words_kept += len(doc.words)
        return None

    def report(self) -> dict[str, Any]:
        """JSON-able summary: counts per rule, words in/out, the settings used."""
        return build_report(self)

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self._started


@dataclass
class CleanResult:
    """Kept and removed records (same type as the input) and the JSON-able report.

    `removed` carries every input column plus `clean_rule` and `clean_detail`.
    """

    kept: Any
    removed: Any
    report: dict[str, Any]

    @property
    def counts(self) -> dict[str, int]:
        """Removed records per rule."""
        return dict(self.report["removed_by_rule"])


def _text_of(record: dict, text_field: str, index: int) -> str | None:
    if text_field not in record:
        raise ConfigError(
            f"record {index} has no {text_field!r} field (keys: {sorted(record)}); "
            "pass text_field= / --text-field with the column that holds the document"
        )
    value = record[text_field]
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"record {index}: {text_field!r} must be a string, got {type(value).__name__}")
    return value


def iter_clean(
    records: Iterable[dict],
    cleaner: Cleaner,
    *,
    text_field: str = "text",
    id_field: str = "id",
) -> Iterator[tuple[dict, Verdict | None]]:
    """Stream (record, verdict) pairs; memory stays that of the rules' state."""
    for index, record in enumerate(records):
        doc_id = str(record.get(id_field, index))
        yield record, cleaner.judge(doc_id, _text_of(record, text_field, index))


def _clean_dataset(data: Any, cleaner: Cleaner, text_field: str, id_field: str) -> CleanResult:
    if text_field not in data.column_names:
        raise ConfigError(
            f"dataset has no {text_field!r} column (columns: {data.column_names}); pass text_field= / --text-field"
        )
    columns = [text_field] + ([id_field] if id_field in data.column_names else [])
    kept_idx = array("q")  # 8 bytes a row, not a Python int each
    removed_idx = array("q")
    rules: list[str] = []
    details: list[str] = []
    position = 0
    progress = tqdm(total=len(data), unit="doc", desc="clean", disable=None)
    for batch in data.select_columns(columns).iter(batch_size=cleaner.config.batch_size):
        ids = batch.get(id_field) or range(position, position + len(batch[text_field]))
        for doc_id, text in zip(ids, batch[text_field], strict=True):
            verdict = cleaner.judge(str(doc_id), text)
            if verdict is None:
                kept_idx.append(position)
            else:
                removed_idx.append(position)
                rules.append(verdict.rule)
                details.append(verdict.detail)
            position += 1
        progress.update(len(batch[text_field]))
    progress.close()
    kept = data.select(np.asarray(kept_idx, dtype=np.int64))
    removed = data.select(np.asarray(removed_idx, dtype=np.int64))
    removed = removed.flatten_indices()
    for name in (RULE_COLUMN, DETAIL_COLUMN):
        if name in removed.column_names:
            removed = removed.remove_columns(name)
    removed = removed.add_column(RULE_COLUMN, rules).add_column(DETAIL_COLUMN, details)
    return CleanResult(kept=kept, removed=removed, report=cleaner.report())


def clean_corpus(
    data: Any,
    config: CleanConfig | None = None,
    *,
    text_field: str = "text",
    id_field: str = "id",
) -> CleanResult:
    """Clean a whole corpus in one pass: a `datasets.Dataset` or an iterable of dict records."""
    cleaner = Cleaner(config)
    try:
        import datasets
    except ImportError:  # plain records need no `datasets`
        datasets = None
    if datasets is not None and isinstance(data, datasets.Dataset):
        result = _clean_dataset(data, cleaner, text_field, id_field)
    elif datasets is not None and isinstance(data, datasets.DatasetDict):
        raise ConfigError(
            f"clean_corpus takes one split, got a DatasetDict with {list(data)}; "
            "pass data['train'] (or concatenate the splits you want deduplicated together)"
        )
    else:
        kept: list[dict] = []
        removed: list[dict] = []
        for record, verdict in iter_clean(data, cleaner, text_field=text_field, id_field=id_field):
            if verdict is None:
                kept.append(record)
            else:
                removed.append({**record, RULE_COLUMN: verdict.rule, DETAIL_COLUMN: verdict.detail})
        result = CleanResult(kept=kept, removed=removed, report=cleaner.report())
    logger.info(
        "cleaned %d documents in %.1fs: kept %d, removed %s",
        result.report["input_documents"],
        cleaner.elapsed_s,
        result.report["kept_documents"],
        result.counts,
    )
    return result
