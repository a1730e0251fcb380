"""`metasynth stats`: diversity statistics of corpora as a table, `diversity.json` and PNG plots.

Examples:
  metasynth stats corpus/ --reference real.parquet --out stats/
  metasynth stats corpus/ --compare template/ in_context/ --reference real/ --metrics compression_ratio,ngram_diversity
  metasynth stats corpus/ --compare template/ --uncut       # whole corpora, not cut to equal tokens

With --compare or --reference, every corpus is cut to the smallest one's token count (tokens
split on spaces, as the n-gram metrics count them) before scoring, as `metasynth compare` cuts,
and each metric gets a 95% interval (--set interval_rounds=0 skips them). Task2Vec is most of the
time on a CPU: leave task2vec_diversity out of --metrics to skip it.
  metasynth stats you/finance-metasynth --config stats.yaml --set task2vec_num_batches=16
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from metasynth_hf.config_io import load_config, parse_override
from metasynth_hf.metrics.config import ALL_GROUPS, MetricsConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="local folder or file of parquet/jsonl, or a Hub dataset id")
    parser.add_argument("--reference", help="real-text corpus: scored too, and the MAUVE reference")
    parser.add_argument(
        "--compare",
        nargs="+",
        default=[],
        metavar="OTHER",
        help="more corpora (baselines); every corpus is cut to the smallest one's tokens and gets 95%% intervals",
    )
    parser.add_argument(
        "--uncut",
        action="store_true",
        help="score --compare/--reference corpora whole, not cut to equal tokens (length-sensitive metrics "
        "then differ partly by size)",
    )
    parser.add_argument("--out", default="diversity_stats", help="folder for diversity.json and plots")
    parser.add_argument("--text-column", default="text", help="column holding the documents")
    parser.add_argument("--split", default="train", help="split of a Hub dataset")
    parser.add_argument(
        "--metrics",
        help=f"comma-separated subset of {','.join(ALL_GROUPS)} (default: all)",
    )
    parser.add_argument("--config", help="YAML file of MetricsConfig fields")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a config field")
    parser.add_argument("--seed", type=int, help="seed of every sampled metric")
    parser.add_argument("--threads", type=int, help="torch/BLAS threads (1 on a shared, oversubscribed machine)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    parser.add_argument("--no-progress", action="store_true", help="no stage lines on stderr")


def build_config(args: argparse.Namespace) -> MetricsConfig:
    overrides = dict(parse_override(item) for item in args.set)
    if args.metrics:
        overrides["metrics"] = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.threads is not None:
        overrides["cpu_threads"] = args.threads
    return load_config(MetricsConfig, args.config, overrides)


def run(args: argparse.Namespace) -> int:
    from metasynth_hf.metrics.report import format_table
    from metasynth_hf.metrics.statistics import write_statistics

    reports = write_statistics(
        [args.dataset, *args.compare],
        args.out,
        reference=args.reference,
        config=build_config(args),
        text_column=args.text_column,
        split=args.split,
        plots=not args.no_plots,
        progress=not args.no_progress,
        equal_tokens=not args.uncut,
    )
    sys.stdout.write(format_table(reports, intervals=True) + "\n")
    sys.stdout.write(f"wrote {Path(args.out) / 'diversity.json'}\n")
    return 0
