"""`metasynth compare`: every method's corpus with the same model and size, scored side by side.

    metasynth compare --config recipes/experiments/small.yaml             # -> docs/results.md
    metasynth compare --config recipes/experiments/tgi.yaml --out runs/tgi --results runs/tgi.md
    metasynth compare --config recipes/experiments/small.yaml --only cpt  # reuse the corpora
    metasynth compare --config recipes/experiments/small.yaml --only report  # rewrite the .md

Generates MetaSynth (keyword and document seeds), template, template + prior generations and
template + real exemplars, computes every diversity metric for every corpus (MAUVE against the
real reference), writes the plots and the markdown results, then (with a `cpt:` section) trains
the tiny model on the MetaSynth and the template corpus at equal tokens and adds held-out
perplexity. Rerunning resumes: finished documents and calls come from the output dir's caches.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from metasynth_hf.config_io import load_config, parse_override
from metasynth_hf.errors import ConfigError

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = __doc__.split("\n\n", 1)[1]
    add = parser.add_argument
    add("--config", required=True, help="experiment YAML, e.g. recipes/experiments/small.yaml")
    add("--out", help="output dir for corpora, caches and JSON (overrides output_dir)")
    add("--results", help="markdown results file (overrides results)")
    add("--num-docs", type=int, help="documents per method (overrides num_docs)")
    add(
        "--only",
        choices=("generate", "diversity", "cpt", "report"),
        help="run one part: generate makes (or resumes) the corpora only, diversity adds the scores, cpt "
        "reuses the corpora, report rewrites the markdown from the JSON",
    )
    add("--no-plots", action="store_true", help="skip the PNG figures")
    add(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override any experiment field, e.g. --set run.target_words=80",
    )


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces every number of the results: `--only` parts are left out,
    since the whole command resumes what they made (corpora and calls come from the caches)."""
    parts = ["metasynth compare", "--config", args.config]
    for flag, value in (("--out", args.out), ("--results", args.results), ("--num-docs", args.num_docs)):
        if value is not None:
            parts += [flag, str(value)]
    parts += [f"--set {item}" for item in args.set]
    return " ".join(parts + (["--no-plots"] if args.no_plots else []))


def keep_raw(config, raw_dir, data: dict, cpt: dict | None) -> None:
    """comparison.json, cpt.json and every corpus's run summary, next to the results file."""
    import shutil

    raw_dir.mkdir(parents=True, exist_ok=True)
    (raw_dir / "comparison.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if cpt is not None:
        (raw_dir / "cpt.json").write_text(json.dumps(cpt, indent=2) + "\n", encoding="utf-8")
    for run_ in data.get("methods", []):
        for summary in sorted(config.corpus_dir(run_["label"]).glob("summary-*.json")):
            target = raw_dir / "summaries" / f"{run_['label']}-{summary.name}"
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(summary, target)


def run(args: argparse.Namespace) -> int:
    from metasynth_hf.experiments import cpt as cpt_runner
    from metasynth_hf.experiments import results, runner
    from metasynth_hf.experiments.config import ExperimentConfig
    from metasynth_hf.experiments.reference import prepare_real_text

    overrides = {"output_dir": args.out, "results": args.results, "num_docs": args.num_docs}
    overrides.update(parse_override(item) for item in args.set)
    config = load_config(ExperimentConfig, args.config, overrides)
    if config.threads:  # scoring and perplexity run torch here (llama.cpp: `conductor.threads`)
        import torch

        torch.set_num_threads(config.threads)
    config.output_dir.mkdir(parents=True, exist_ok=True)
    real = (
        None if args.only == "report" else prepare_real_text(config.reference, config.output_dir / "real", config.seed)
    )
    plots_dir = None if args.no_plots else config.results_file.parent / "results" / config.name
    # The raw measurements are kept next to the results file (and committed with it), so that
    # `--only report` re-renders the markdown from them without the corpora.
    raw_dir = config.results_file.parent / "results" / config.name
    comparison_file = config.output_dir / "comparison.json"
    if args.only in ("cpt", "report") and not comparison_file.is_file() and (raw_dir / "comparison.json").is_file():
        comparison_file = raw_dir / "comparison.json"
    if args.only == "generate":
        import asyncio

        assert real is not None  # prepared unless --only report
        runs = asyncio.run(runner.generate_all(config, real))
        for run_ in runs:
            sys.stdout.write(
                f"{run_.label}: {run_.documents} documents, {run_.tokens} tokens, {run_.wall_time_s:.0f} s\n"
            )
        return 0
    if args.only in ("cpt", "report"):
        if not comparison_file.is_file():
            raise ConfigError(f"{comparison_file} is missing: run without --only first")
        data = json.loads(comparison_file.read_text(encoding="utf-8"))
    else:
        assert real is not None  # prepared unless --only report
        data = runner.run_comparison(config, real, plots_dir)
        data["command"] = command_line(args)
        comparison_file.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    cpt = None
    cpt_file = config.output_dir / "cpt.json"
    if not cpt_file.is_file() and (raw_dir / "cpt.json").is_file():
        cpt_file = raw_dir / "cpt.json"
    if config.cpt is not None and args.only in (None, "cpt"):
        assert real is not None  # prepared unless --only report
        texts: dict[str, list[str]] = {
            label: runner.corpus_texts(config.corpus_dir(label)) for label in config.methods
        }
        cpt = cpt_runner.run_cpt(config, texts, real)
    elif cpt_file.is_file():  # keep the CPT part of an earlier run in the markdown
        cpt = json.loads(cpt_file.read_text(encoding="utf-8"))
    if args.only != "report":
        keep_raw(config, raw_dir, data, cpt)
    command = data.get("command") or command_line(args)
    text = results.render(
        data,
        command=command,
        results_path=config.results_file,
        plots_dir=plots_dir,
        cpt=cpt,
        scale_note=config.note,
        context=results.load_context(config.context),
    )
    results.write_results(config.results_file, text)
    sys.stdout.write(results.summary_lines(data, cpt) + f"\nwrote {config.results_file}\n")
    return 0
