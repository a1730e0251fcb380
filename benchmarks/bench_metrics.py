"""Diversity metrics: our time vs the reference packages', and the whole suite at scale.

    python benchmarks/bench_metrics.py                  # 1M tokens: per-metric ratios + all metrics
    python benchmarks/bench_metrics.py --full-scale     # also all metrics at 25M tokens (long)
    python benchmarks/bench_metrics.py --full-scale --full-metrics compression_ratio,ngram_diversity,self_repetition,homogenization

Corpora: word-trigram Markov text fitted on standard-library docstrings (benchmarks/metrics_corpus.py),
400 words per document, cached as parquet under --cache-dir. The all-metrics runs happen in a
child process each, so the peak RSS printed is that run's alone (ru_maxrss after every phase).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics_corpus import cached_corpus  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
logger = logging.getLogger("bench_metrics")


def _timed(fn, *args, **kwargs):
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - started


def _texts(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=["text"]).column("text").to_pylist()


def compare_lexical(texts: list[str], homog_docs: int) -> list[dict]:
    """Each lexical metric: ours vs the `diversity` package on the same corpus."""
    import diversity

    from metasynth_hf.metrics import homogenization as hom
    from metasynth_hf.metrics import lexical

    rows = []
    ours, t_ours_single = _timed(lexical.compression_ratio, texts)
    ref_compat, t_ours = _timed(lexical.compression_ratio_reference, texts)
    ref, t_ref = _timed(diversity.compression_ratio, texts)
    rows.append(
        dict(
            metric="compression_ratio (ours: single gzip)",
            ours=ours,
            reference=ref,
            t_ours=t_ours_single,
            t_ref=t_ref,
        )
    )
    rows.append(
        dict(
            metric="compression_ratio, reference-compatible",
            ours=ref_compat,
            reference=ref,
            t_ours=t_ours,
            t_ref=t_ref,
        )
    )
    ours, t_ours = _timed(lexical.ngram_diversity_score, texts)
    ref, t_ref = _timed(diversity.ngram_diversity_score, texts, 4)
    rows.append(dict(metric="ngram_diversity (n=1..4)", ours=ours, reference=ref, t_ours=t_ours, t_ref=t_ref))
    ours, t_ours = _timed(lexical.self_repetition, texts)
    ref, t_ref = _timed(diversity.self_repetition_score, texts, verbose=False)
    rows.append(dict(metric="self_repetition", ours=ours, reference=ref, t_ours=t_ours, t_ref=t_ref))
    stats, t_ours = _timed(lexical.lexical_stats, texts)
    rows.append(
        dict(
            metric="all three in one streaming pass",
            ours=None,
            reference=None,
            t_ours=t_ours,
            t_ref=None,
        )
    )
    sub = texts[:homog_docs]
    ours, t_ours = _timed(hom.homogenization, sub)
    ref, t_ref = _timed(diversity.homogenization_score, sub, verbose=False)
    rows.append(
        dict(
            metric=f"homogenization, {homog_docs} docs (all pairs)",
            ours=ours["value"],
            reference=ref,
            t_ours=t_ours,
            t_ref=t_ref,
        )
    )
    full, t_full = _timed(hom.homogenization, texts, sample=len(texts))
    n, k = len(texts), homog_docs
    rows.append(
        dict(
            metric=f"homogenization, all {n} docs (reference extrapolated)",
            ours=full["value"],
            reference=None,
            t_ours=t_full,
            t_ref=t_ref * n * (n - 1) / (k * (k - 1)),
        )
    )
    return rows


def compare_embedding(texts: list[str], cache_dir: Path) -> list[dict]:
    """Embedding metrics vs brute force / vendi_score on the same embeddings."""
    import numpy as np
    import vendi_score.vendi as vendi
    from sklearn.metrics.pairwise import cosine_distances

    from metasynth_hf.metrics import embedding_metrics as em
    from metasynth_hf.metrics.config import MetricsConfig
    from metasynth_hf.metrics.embeddings import embed_corpus

    emb, t_emb = _timed(embed_corpus, texts, MetricsConfig(cache_dir=str(cache_dir)))
    rows = [
        dict(
            metric=f"embeddings ({len(texts)} docs, MiniLM; cache from the all-metrics run)",
            ours=None,
            reference=None,
            t_ours=t_emb,
            t_ref=None,
        )
    ]

    def brute_rc():
        return float(np.mean(np.mean(cosine_distances(emb), axis=1)))

    def brute_ch():
        d = cosine_distances(emb)
        return float(np.mean(np.min(d + np.eye(len(d)) * 1e9, axis=1)))

    for name, ours_fn, ref_fn in [
        ("remote_clique (reference form)", lambda: em.remote_clique_reference(emb), brute_rc),
        ("chamfer_distance", lambda: em.chamfer_distance(emb), brute_ch),
        ("vendi_score", lambda: em.vendi_score(emb), lambda: float(vendi.score_X(emb))),
    ]:
        ours, t_ours = _timed(ours_fn)
        ref, t_ref = _timed(ref_fn)
        rows.append(dict(metric=name, ours=ours, reference=ref, t_ours=t_ours, t_ref=t_ref))
    return rows


def print_rows(rows: list[dict]) -> None:
    def fmt(v):
        return "-" if v is None else f"{v:.4f}"

    print(f"{'metric':52} {'ours':>9} {'reference':>10} {'ours s':>9} {'ref s':>10} {'speed-up':>9}")
    for r in rows:
        ratio = f"{r['t_ref'] / r['t_ours']:.1f}x" if r["t_ref"] and r["t_ours"] else "-"
        t_ref = "-" if r["t_ref"] is None else f"{r['t_ref']:.2f}"
        print(
            f"{r['metric']:52} {fmt(r['ours']):>9} {fmt(r['reference']):>10} {r['t_ours']:9.2f} {t_ref:>10} {ratio:>9}"
        )


class _PhaseMemory(logging.Handler):
    """Records peak RSS after each timed phase of `diversity_report` (its log lines)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.peaks: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "%s: %.1f s":
            self.peaks[str(record.args[0])] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(corpus: Path, reference: Path, config_json: str) -> None:
    """One all-metrics run; prints one JSON line."""
    from metasynth_hf.metrics.config import MetricsConfig
    from metasynth_hf.metrics.corpus import load_corpus
    from metasynth_hf.metrics.report import diversity_report

    handler = _PhaseMemory()
    report_logger = logging.getLogger("metasynth_hf.metrics.report")
    report_logger.setLevel(logging.INFO)
    report_logger.addHandler(handler)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    config = MetricsConfig.model_validate_json(config_json)
    texts, ref = load_corpus(str(corpus)), load_corpus(str(reference))
    report, wall = _timed(diversity_report, texts, reference_texts=ref, config=config)
    out = {
        "documents": report["num_documents"],
        "tokens": report.get("num_tokens"),
        "wall_s": round(wall, 1),
        "timings_s": report["timings_s"],
        "peak_rss_mb_after_phase": {k: round(v) for k, v in handler.peaks.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_mb_at_start": round(base_rss),
        "values": {k: v["value"] for k, v in report["metrics"].items()},
        "config": json.loads(config_json),
    }
    print("RESULT " + json.dumps(out))


def all_metrics(tokens: int, cache_dir: Path, config) -> dict:
    """All metrics in a child process (its own peak RSS) with a cold embedding cache."""
    corpus = cached_corpus(tokens, cache_dir)
    reference = cached_corpus(min(tokens, 1_000_000), cache_dir, seed=1)
    cmd = [sys.executable, __file__, "--child", str(corpus), str(reference)]
    cmd.append(config.model_dump_json())
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"child run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def _print_run(tokens: int, run: dict) -> None:
    print(f"\nall metrics at {tokens:,} tokens ({run['documents']} documents):")
    print(f"  wall {run['wall_s']} s, peak RSS {run['peak_rss_mb']} MB; phases (s): {run['timings_s']}")
    print(f"  peak RSS after phase (MB): {run['peak_rss_mb_after_phase']}")
    print(f"  values: { {k: round(v, 4) for k, v in run['values'].items()} }")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--full-scale", action="store_true", help="also run at --full-tokens")
    parser.add_argument("--full-tokens", type=int, default=25_000_000)
    parser.add_argument("--full-metrics", help="metric groups at full scale (default: all)")
    parser.add_argument("--full-embedding-sample", type=int, help="embedding_sample at full scale (CPU bound)")
    parser.add_argument("--homogenization-ref-docs", type=int, default=30)
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/metasynth_bench"))
    parser.add_argument("--out", type=Path, help="write all figures as JSON here")
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads (1: shared)")
    parser.add_argument("--skip-small-run", action="store_true", help="no all-metrics run at --tokens")
    parser.add_argument("--skip-comparison", action="store_true", help="no per-metric ratios")
    parser.add_argument("--embedding-cache", type=Path, help="reuse this embedding cache")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), args.child[2])
        return
    from metasynth_hf.metrics.config import MetricsConfig
    from metasynth_hf.metrics.embeddings import cpu_threads

    results: dict = {"comparison": [], "all_metrics": {}}
    # cold for the first run, unless an earlier run's cache is named
    emb_dir = args.embedding_cache or args.cache_dir / f"embeddings_{time.time_ns()}"
    base = MetricsConfig(cache_dir=str(emb_dir), cpu_threads=args.threads)
    if not args.skip_small_run:
        run = all_metrics(args.tokens, args.cache_dir, base)
        results["all_metrics"][str(args.tokens)] = run
        _print_run(args.tokens, run)
    if not args.skip_comparison:
        texts = _texts(cached_corpus(args.tokens, args.cache_dir))
        words = sum(len(t.split()) for t in texts)
        print(f"\ncorpus: {len(texts)} documents, {words} whitespace tokens (Markov text)")
        with cpu_threads(args.threads):
            rows = compare_lexical(texts, args.homogenization_ref_docs)
            rows += compare_embedding(texts, emb_dir)
        print_rows(rows)
        results["comparison"] = rows
    if args.full_scale:
        update = {"cache_dir": str(args.cache_dir / f"embeddings_{time.time_ns()}")}
        if args.full_metrics:
            update["metrics"] = tuple(args.full_metrics.split(","))
        if args.full_embedding_sample:  # also caps the MAUVE sample: both are encoding-bound
            update["embedding_sample"] = args.full_embedding_sample
            update["mauve_max_docs"] = args.full_embedding_sample
        run = all_metrics(args.full_tokens, args.cache_dir, base.model_copy(update=update))
        results["all_metrics"][str(args.full_tokens)] = run
        _print_run(args.full_tokens, run)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
