"""The library call behind `metasynth stats` (and `generate --stats`): corpora in, the scores
written as `diversity.json` plus plots. Commands parse their arguments and call this."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from metasynth_hf.corpus.load import load_corpus
from metasynth_hf.metrics.config import MetricsConfig

logger = logging.getLogger(__name__)


def corpus_name(spec: str, taken: set[str]) -> str:
    """A short, unique table name for a corpus spec (a folder's name, a file's stem, a Hub id)."""
    path = Path(spec)
    base = (path.stem if path.suffix else path.name) or spec.replace("/", "_")
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def corpus_rows_fingerprint(dataset: Any, batch_size: int = 2000) -> str:
    """`corpus.records.rows_fingerprint` of a loaded corpus: its `id` column (None where it has
    none) with its `text`, so `metasynth push` can tell which entry of diversity.json describes
    the rows it publishes."""
    from metasynth_hf.corpus.records import rows_fingerprint

    columns = [c for c in ("id", "text") if c in dataset.column_names]

    def pairs():
        for batch in dataset.select_columns(columns).iter(batch_size=batch_size):
            ids = batch.get("id") or [None] * len(batch["text"])
            yield from zip(ids, batch["text"], strict=True)

    return rows_fingerprint(pairs())


class _StagePrinter:
    """One stderr line as each stage of each corpus starts and ends, with its time."""

    def __init__(self, enabled: bool):
        self.enabled, self.corpus = enabled, 0

    def __call__(self, stage: str, seconds: float | None) -> None:
        if not self.enabled:
            return
        if stage == "fingerprint" and seconds is None:
            self.corpus += 1
        where = f"stats: corpus {self.corpus}, {stage}"
        print(f"{where} ..." if seconds is None else f"{where}: done in {seconds:.1f} s", file=sys.stderr, flush=True)


def write_statistics(
    corpora: list[str],
    out: str | Path,
    *,
    reference: str | None = None,
    config: MetricsConfig | None = None,
    text_column: str = "text",
    split: str = "train",
    plots: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Score `corpora` (folders, files or Hub ids; the first is the main one) and `reference`
    (real text: scored too, and the MAUVE reference); write `out/diversity.json` and the plots.
    Returns the reports, keyed by corpus name."""
    from metasynth_hf.metrics.report import STAGE_LISTENER, compare_corpora

    config = config or MetricsConfig()
    taken: set[str] = set()
    loaded = {corpus_name(spec, taken): load_corpus(spec, column=text_column, split=split) for spec in corpora}
    real, reference_name = None, "reference"
    if reference:
        reference_name = corpus_name(reference, taken)
        real = load_corpus(reference, column=text_column, split=split, what="--reference")
    if text_column != "text":
        loaded = {k: v.rename_column(text_column, "text") for k, v in loaded.items()}
        real = real.rename_column(text_column, "text") if real is not None else None
    embeddings: dict = {}
    token = STAGE_LISTENER.set(_StagePrinter(progress))
    try:
        reports = compare_corpora(
            loaded, reference=real, reference_name=reference_name, config=config, embeddings_out=embeddings
        )
    finally:
        STAGE_LISTENER.reset(token)
    for name, dataset in {**loaded, **({reference_name: real} if real is not None else {})}.items():
        reports[name]["rows_fingerprint"] = corpus_rows_fingerprint(dataset, config.batch_docs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "diversity.json").write_text(json.dumps(reports, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if plots:
        from metasynth_hf.metrics.plots import write_plots

        paths = write_plots(reports, out, embeddings or None, seed=config.seed)
        logger.info("plots: %s", ", ".join(p.name for p in paths))
    return reports
