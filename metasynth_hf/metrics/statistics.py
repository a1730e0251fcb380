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
from metasynth_hf.metrics.corpus import Texts, num_documents
from metasynth_hf.metrics.sizing import SPACE_SPLIT, count_tokens, equal_size, iter_texts, space_split_tokens

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

    def note(self, text: str) -> None:
        if self.enabled:
            print(f"stats: {text}", file=sys.stderr, flush=True)


def size_corpora(corpora: dict[str, Texts], equal_tokens: bool) -> tuple[dict[str, Texts], dict[str, dict]]:
    """The corpora to score and, per corpus, how it was sized (its `sizing` entry in diversity.json).

    Two or more corpora are cut to the smallest one's space-split token count (`metrics.sizing`,
    as `metasynth compare` cuts); with `equal_tokens` off they are scored whole, with a warning
    when their sizes differ.
    """
    sizes = {name: count_tokens(texts, space_split_tokens) for name, texts in corpora.items()}
    scored, budget = dict(corpora), None
    if len(corpora) > 1 and equal_tokens:
        scored, budget = equal_size(corpora, space_split_tokens, sizes)
    elif len(set(sizes.values())) > 1:
        listed = ", ".join(f"{name} {n:,}" for name, n in sizes.items())
        logger.warning(
            "corpora of different sizes (%s %s tokens) are scored whole: compression ratio, n-gram diversity, "
            "Vendi and MAUVE move with length, so their differences are partly size; drop --uncut to compare "
            "them at equal tokens",
            listed,
            SPACE_SPLIT,
        )
    sizing = {
        name: {
            "tokenizer": SPACE_SPLIT,
            "corpus_tokens": sizes[name],
            "corpus_documents": num_documents(texts),
            "cut_to_tokens": budget,
        }
        for name, texts in corpora.items()
    }
    return scored, sizing


def announce_task2vec(config: MetricsConfig) -> None:
    """Task2Vec's cost on stderr before it runs: most of the time of `stats`, and on first use a
    float32 copy of the probe written to the cache; with the flag that skips it."""
    if "task2vec_diversity" not in config.metrics:
        return
    from metasynth_hf.causal_lm import pending_conversion

    others = ",".join(m for m in config.metrics if m != "task2vec_diversity")
    skip = f"--metrics {others}" if others else "--metrics with other metrics"
    line = (
        f"stats: Task2Vec fits the {config.task2vec_probe} probe on {config.task2vec_num_batches} batches per corpus "
        f"(on a CPU, most of the time of `stats`)"
    )
    pending = pending_conversion(config.task2vec_probe)
    if pending is not None:
        target, size = pending
        line += (
            f"; first use: converting the probe into a float32 checkpoint"
            f"{f' of about {size / 1e6:,.0f} MB' if size else ''} at {target} (once)"
        )
    print(f"{line}; skip it with {skip}", file=sys.stderr, flush=True)


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
    equal_tokens: bool = True,
) -> dict[str, Any]:
    """Score `corpora` (folders, files or Hub ids; the first is the main one) and `reference`
    (real text: scored too, and the MAUVE reference); write `out/diversity.json` and the plots.

    Two or more corpora (the reference counts) are cut to equal tokens first (`equal_tokens`)
    and get 95% intervals (`config.interval_rounds` subsamples); every report says how its
    corpus was sized under `sizing`, and `rows_fingerprint` is always of the whole corpus.
    Returns the reports, keyed by corpus name."""
    from metasynth_hf.metrics.embeddings import cpu_threads
    from metasynth_hf.metrics.intervals import add_intervals
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
    everything = {**loaded, **({reference_name: real} if real is not None else {})}
    scored, sizing = size_corpora(everything, equal_tokens)
    scored_reference = scored.pop(reference_name) if real is not None else None
    embeddings: dict = {}
    printer = _StagePrinter(progress)
    announce_task2vec(config)
    token = STAGE_LISTENER.set(printer)
    try:
        reports = compare_corpora(
            scored, reference=scored_reference, reference_name=reference_name, config=config, embeddings_out=embeddings
        )
    finally:
        STAGE_LISTENER.reset(token)
    if len(everything) > 1 and config.interval_rounds:
        printer.note(f"95% intervals from {config.interval_rounds} half-size subsamples per corpus ...")
        with cpu_threads(config.cpu_threads):
            for name, texts in {**scored, **({reference_name: scored_reference} if real is not None else {})}.items():
                add_intervals(
                    reports[name],
                    texts if isinstance(texts, list) else list(iter_texts(texts)),
                    embeddings=embeddings.get(name),
                    reference_embeddings=None if name == reference_name else embeddings.get(reference_name),
                    config=config,
                    rounds=config.interval_rounds,
                    log=logger.info,
                )
    for name, entry in sizing.items():
        reports[name]["sizing"] = entry
    for name, dataset in everything.items():  # the whole corpus's rows, never the cut
        reports[name]["rows_fingerprint"] = corpus_rows_fingerprint(dataset, config.batch_docs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "diversity.json").write_text(json.dumps(reports, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if plots:
        from metasynth_hf.metrics.plots import write_plots

        paths = write_plots(reports, out, embeddings or None, seed=config.seed)
        logger.info("plots: %s", ", ".join(p.name for p in paths))
    return reports
