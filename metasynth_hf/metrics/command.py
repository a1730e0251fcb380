"""`metasynth stats`: diversity statistics of corpora as a table, `diversity.json` and PNG plots.

Examples:
  metasynth stats corpus/ --reference real.parquet --out stats/
  metasynth stats corpus/ --compare template/ in_context/ --reference real/ --metrics compression_ratio,ngram_diversity
  metasynth stats you/finance-metasynth --config stats.yaml --set task2vec_num_batches=16
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from metasynth_hf.config_io import load_config, parse_override
from metasynth_hf.metrics.config import ALL_GROUPS, MetricsConfig
from metasynth_hf.metrics.corpus import load_corpus

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="local folder or file of parquet/jsonl, or a Hub dataset id")
    parser.add_argument("--reference", help="real-text corpus: scored too, and the MAUVE reference")
    parser.add_argument("--compare", nargs="+", default=[], metavar="OTHER", help="more corpora (baselines)")
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


def _name(spec: str, taken: set[str]) -> str:
    path = Path(spec)
    base = (path.stem if path.suffix else path.name) or spec.replace("/", "_")
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def build_config(args: argparse.Namespace) -> MetricsConfig:
    overrides = dict(parse_override(item) for item in args.set)
    if args.metrics:
        overrides["metrics"] = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.threads is not None:
        overrides["cpu_threads"] = args.threads
    return load_config(MetricsConfig, args.config, overrides)


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


def run(args: argparse.Namespace) -> int:
    from metasynth_hf.metrics.report import STAGE_LISTENER, compare_corpora, format_table

    config = build_config(args)
    taken: set[str] = set()
    corpora = {}
    for spec in [args.dataset, *args.compare]:
        corpora[_name(spec, taken)] = load_corpus(spec, column=args.text_column, split=args.split)
    reference = None
    reference_name = "reference"
    if args.reference:
        reference_name = _name(args.reference, taken)
        reference = load_corpus(args.reference, column=args.text_column, split=args.split)
    if args.text_column != "text":
        corpora = {k: v.rename_column(args.text_column, "text") for k, v in corpora.items()}
        if reference is not None:
            reference = reference.rename_column(args.text_column, "text")
    embeddings: dict = {}
    token = STAGE_LISTENER.set(_StagePrinter(not args.no_progress))
    try:
        reports = compare_corpora(
            corpora,
            reference=reference,
            reference_name=reference_name,
            config=config,
            embeddings_out=embeddings,
        )
    finally:
        STAGE_LISTENER.reset(token)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "diversity.json").write_text(json.dumps(reports, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    sys.stdout.write(format_table(reports) + "\n")
    if not args.no_plots:
        from metasynth_hf.metrics.plots import write_plots

        paths = write_plots(reports, out, embeddings or None, seed=config.seed)
        logger.info("plots: %s", ", ".join(p.name for p in paths))
    sys.stdout.write(f"wrote {out / 'diversity.json'}\n")
    return 0
