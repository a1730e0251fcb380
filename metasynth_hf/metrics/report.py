"""One report per corpus, as a plain JSON-able dict, and the side-by-side comparison.

A report is `{"name", "num_documents", "num_tokens", "num_bytes", "fingerprint", "metrics":
{metric: {"value", "direction", ...}}, "config", "timings_s"}`; `metasynth stats` adds
`rows_fingerprint` (the corpus's ids and texts, `corpus.records.rows_fingerprint`), which
`metasynth push` matches against the rows it publishes. Sampled metrics add
`sample_size`, `seed` and `ci95`; metrics whose definition differs from the reference package add
`reference_value`, the number that package prints on the same input.
"""

from __future__ import annotations

import logging
import textwrap
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import cast

import numpy as np

from metasynth_hf.errors import MissingDependencyError
from metasynth_hf.metrics import embedding_metrics as em
from metasynth_hf.metrics.config import DEFAULT_CONFIG, METRICS, CorpusError, MetricsConfig
from metasynth_hf.metrics.corpus import Texts, check_corpus, fingerprint, num_documents, take
from metasynth_hf.metrics.embeddings import cpu_threads, embed_corpus
from metasynth_hf.metrics.homogenization import homogenization
from metasynth_hf.metrics.lexical import lexical_stats

logger = logging.getLogger(__name__)

#: Called as `listener(stage, None)` when a stage starts and `listener(stage, seconds)` when it
#: ends (the stats command prints them: Task2Vec on a CPU takes minutes and must show it runs).
STAGE_LISTENER: ContextVar[Callable[[str, float | None], None] | None] = ContextVar("stage_listener", default=None)


def _entry(name: str, value: float | None, **extra) -> dict:
    direction, meaning = METRICS[name]
    return {"value": value, "direction": direction, "meaning": meaning, **extra}


@contextmanager
def _timed(timings: dict, key: str):
    started = time.perf_counter()
    listener = STAGE_LISTENER.get()
    if listener is not None:
        listener(key, None)
    try:
        yield
    finally:
        timings[key] = round(time.perf_counter() - started, 3)
        logger.info("%s: %.1f s", key, timings[key])
        if listener is not None:
            listener(key, timings[key])


def _lexical_entries(texts: Texts, config: MetricsConfig, wanted: set[str], report: dict) -> None:
    metrics = report["metrics"]
    if wanted & {"compression_ratio", "ngram_diversity", "self_repetition"}:
        lex = lexical_stats(
            texts,
            max_n=config.ngram_max_n,
            repetition_n=config.self_repetition_n,
            reference_compatible=config.reference_compatible,
            batch_docs=config.batch_docs,
        )
        report.update(num_tokens=lex["num_tokens"], num_bytes=lex["num_bytes"])
        if "compression_ratio" in wanted:
            metrics["compression_ratio"] = _entry(
                "compression_ratio",
                lex["compression_ratio"],
                reference_value=lex["compression_ratio_reference"],
            )
        if "ngram_diversity" in wanted:
            metrics["ngram_diversity"] = _entry(
                "ngram_diversity",
                lex["ngram_diversity"],
                reference_value=round(cast(float, lex["ngram_diversity"]), 3),  # always a float
            )
            for n in range(1, min(config.ngram_max_n, 4) + 1):
                metrics[f"ngram_diversity_{n}"] = _entry(f"ngram_diversity_{n}", lex[f"ngram_diversity_{n}"])
        if "self_repetition" in wanted:
            metrics["self_repetition"] = _entry("self_repetition", lex["self_repetition"])
    if "homogenization" in wanted:
        result = homogenization(
            texts,
            sample=config.homogenization_sample,
            seed=config.seed,
            bootstrap_rounds=config.bootstrap_rounds,
        )
        value = result.pop("value")
        metrics["homogenization"] = _entry("homogenization", value, **result)


def _embedding_entries(
    emb: np.ndarray,
    ref_emb: np.ndarray | None,
    config: MetricsConfig,
    wanted: set[str],
    metrics: dict,
) -> None:
    if "remote_clique" in wanted:
        metrics["remote_clique"] = _entry(
            "remote_clique", em.remote_clique(emb), reference_value=em.remote_clique_reference(emb)
        )
    if "chamfer_distance" in wanted:
        value = em.chamfer_distance(emb)
        metrics["chamfer_distance"] = _entry("chamfer_distance", value, reference_value=round(value, 3))
    if "vendi_score" in wanted:
        metrics["vendi_score"] = _entry("vendi_score", em.vendi_score(emb))
    if "mauve" in wanted and ref_emb is not None:
        try:
            result = em.mauve_score(
                emb,
                ref_emb,
                max_docs=config.mauve_max_docs,
                seed=config.seed,
                num_redo=config.mauve_kmeans_num_redo,
                max_iter=config.mauve_kmeans_max_iter,
            )
        except MissingDependencyError:  # GPL, in its own extra: the other metrics still count
            note = "not computed: mauve-text (GPL) is not installed; pip install 'metasynth-hf[mauve]'"
            logger.warning("MAUVE %s", note)
            metrics["mauve"] = _entry("mauve", None, note=note)
        else:
            metrics["mauve"] = _entry("mauve", result.pop("value"), **result)


def _sample(texts: Texts, limit: int | None, seed: int) -> tuple[Texts, int | None]:
    """A seeded sample of at most `limit` documents (the corpus itself when small enough)."""
    n = num_documents(texts)
    if limit is None or n <= limit:
        return texts, None
    rng = np.random.default_rng(seed)
    return take(texts, sorted(rng.choice(n, size=limit, replace=False).tolist())), limit


def _embeddings(texts, reference_texts, config: MetricsConfig, wanted: set[str], report: dict):
    """Corpus embeddings (all documents, or `embedding_sample`), and the MAUVE reference's.

    MAUVE uses at most `mauve_max_docs` reference documents, so only those are encoded.
    """
    subset, sampled = _sample(texts, config.embedding_sample, config.seed)
    fp = report["fingerprint"] if sampled is None else None
    emb = embed_corpus(subset, config, corpus_fingerprint=fp)
    ref_emb = None
    if reference_texts is not None and "mauve" in wanted:
        check_corpus(reference_texts, "reference")
        ref_subset, _ = _sample(reference_texts, config.mauve_max_docs, config.seed)
        ref_emb = embed_corpus(ref_subset, config)
    return emb, ref_emb, sampled


def diversity_report(
    texts: Texts,
    *,
    reference_texts: Texts | None = None,
    config: MetricsConfig = DEFAULT_CONFIG,
    name: str = "corpus",
    probe=None,
    embeddings_out: dict | None = None,
) -> dict:
    """Every configured metric of one corpus; MAUVE only when `reference_texts` is given.

    `probe` = (tokenizer, model) reuses a loaded Task2Vec probe; `embeddings_out`, when given,
    receives the document embeddings under `name` (for plots).
    """
    with cpu_threads(config.cpu_threads):
        return _report(texts, reference_texts, config, name, probe, embeddings_out)


def _report(texts, reference_texts, config, name, probe, embeddings_out) -> dict:
    n = check_corpus(texts, name)
    wanted = set(config.metrics)
    report: dict = {
        "name": name,
        "num_documents": n,
        "metrics": {},
        "config": config.model_dump(mode="json"),
    }
    timings: dict[str, float] = {}
    with _timed(timings, "fingerprint"):
        report["fingerprint"] = fingerprint(texts, config.batch_docs)
    with _timed(timings, "lexical"):
        _lexical_entries(texts, config, wanted, report)
    if wanted & {"remote_clique", "chamfer_distance", "vendi_score", "mauve"}:
        with _timed(timings, "embeddings"):
            emb, ref_emb, sampled = _embeddings(texts, reference_texts, config, wanted, report)
        if embeddings_out is not None:
            embeddings_out[name] = emb
        with _timed(timings, "embedding_metrics"):
            _embedding_entries(emb, ref_emb, config, wanted, report["metrics"])
        if sampled:
            for key in ("remote_clique", "chamfer_distance", "vendi_score"):
                if key in report["metrics"]:
                    report["metrics"][key].update(sample_size=sampled, seed=config.seed)
    if "task2vec_diversity" in wanted:
        from metasynth_hf.metrics.task2vec import task2vec_diversity

        with _timed(timings, "task2vec"):
            result = task2vec_diversity(texts, config, probe=probe)
        report["metrics"]["task2vec_diversity"] = _entry("task2vec_diversity", result.pop("value"), **result)
    report["timings_s"] = timings
    return report


def compare_corpora(
    corpora: Mapping[str, Texts],
    *,
    reference: Texts | None = None,
    reference_name: str = "reference",
    config: MetricsConfig = DEFAULT_CONFIG,
    embeddings_out: dict | None = None,
    probe=None,
) -> dict[str, dict]:
    """Reports of several named corpora side by side; the reference corpus gets its own report.

    The Task2Vec probe is loaded once for all corpora (or pass `probe` = (tokenizer, model)).
    """
    if not corpora:
        raise CorpusError("compare_corpora needs at least one named corpus")
    if reference is not None and reference_name in corpora:
        raise CorpusError(f"corpus name {reference_name!r} is taken by the reference; rename one")
    if probe is None and "task2vec_diversity" in config.metrics:
        from metasynth_hf.metrics.task2vec import load_probe

        probe = load_probe(config.task2vec_probe)  # once for all corpora
    reports = {}
    for name, texts in corpora.items():
        reports[name] = diversity_report(
            texts,
            reference_texts=reference,
            config=config,
            name=name,
            probe=probe,
            embeddings_out=embeddings_out,
        )
    if reference is not None:
        ref_config = config.model_copy(update={"metrics": tuple(m for m in config.metrics if m != "mauve")})
        reports[reference_name] = diversity_report(
            reference,
            config=ref_config,
            name=reference_name,
            probe=probe,
            embeddings_out=embeddings_out,
        )
        reports[reference_name]["is_reference"] = True
    return reports


def _size_cells(reports: Mapping[str, dict]) -> list[tuple[str, list[str]]]:
    """The documents and tokens each corpus was scored on ("12 of 40" when cut), by `sizing`."""
    docs, tokens = [], []
    for report in reports.values():
        sizing = report["sizing"]
        cut = sizing.get("cut_to_tokens") is not None
        scored = report.get("num_tokens", min(sizing["corpus_tokens"], sizing.get("cut_to_tokens") or 10**18))
        docs.append(f"{report['num_documents']:,}" + (f" of {sizing['corpus_documents']:,}" if cut else ""))
        tokens.append(f"{scored:,}" + (f" of {sizing['corpus_tokens']:,}" if cut else ""))
    tokenizer = next(iter(reports.values()))["sizing"]["tokenizer"]
    return [("documents", docs), (f"tokens ({tokenizer})", tokens)]


def _sizing_note(reports: Mapping[str, dict]) -> list[str]:
    sizing = next(iter(reports.values()))["sizing"]
    if sizing.get("cut_to_tokens") is not None:
        return [
            f"Every corpus was cut to {sizing['cut_to_tokens']:,} {sizing['tokenizer']} tokens (the smallest "
            "corpus's count; text split on spaces, as the n-gram metrics count) before scoring, the last "
            "document at a word: length-sensitive metrics compare at equal size (`stats --uncut` scores whole corpora)."
        ]
    if len({r["sizing"]["corpus_tokens"] for r in reports.values()}) > 1:
        return ["Corpora scored whole at different sizes: length-sensitive metrics differ partly by size."]
    return []


def format_table(reports: Mapping[str, dict], *, intervals: bool = False) -> str:
    """Metrics as rows, corpora as columns, with the diverse direction marked.

    With `intervals`, each value with a 95% interval (`ci95`) shows it as [low, high]. Reports
    that say how they were sized (`sizing`, from `metasynth stats`) start with the documents and
    tokens scored, and a note under the table says how the corpora were cut.
    """
    names = list(reports)
    metric_names = [m for m in METRICS if any(m in r["metrics"] for r in reports.values())]
    sized = all("sizing" in r for r in reports.values())
    rows: list[tuple[str, list[str]]] = _size_cells(reports) if sized else []
    shown_ci = False
    for metric in metric_names:
        arrow = "↑" if METRICS[metric][0] == "higher" else "↓"
        cells = []
        for name in names:
            entry = reports[name]["metrics"].get(metric) or {}
            value, ci = entry.get("value"), entry.get("ci95")
            cell = "-" if value is None else f"{value:.4f}"
            if intervals and value is not None and ci:
                cell, shown_ci = f"{cell} [{ci[0]:.4f}, {ci[1]:.4f}]", True
            cells.append(cell)
        rows.append((f"{metric} {arrow}", cells))
    width = max([len(label) for label, _ in rows] + [6]) + 2
    cols = [max([len(n), 10] + [len(cells[i]) for _, cells in rows]) for i, n in enumerate(names)]
    lines = ["metric".ljust(width) + "  ".join(n.rjust(c) for n, c in zip(names, cols, strict=True))]
    lines += [
        label.ljust(width) + "  ".join(c.rjust(w) for c, w in zip(cells, cols, strict=True)) for label, cells in rows
    ]
    notes = _sizing_note(reports) if sized else []
    if shown_ci:
        notes.append(
            "[low, high]: 95% intervals (subsampled documents; Task2Vec over probe batches; homogenization "
            "bootstrapped, none when every document pair was scored)."
        )
    return "\n".join(lines + ([""] + [textwrap.fill(note, 100) for note in notes] if notes else []))
