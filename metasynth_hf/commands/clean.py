"""`metasynth clean DATASET --out DIR`: dedup, quality-filter and decontaminate a corpus.

Examples:
  metasynth clean corpus/ --out corpus-clean/
  metasynth clean corpus/ --out clean/ --eval evals/gsm8k_test.jsonl --set near.threshold=0.7
  metasynth clean corpus/ --out clean/ --config run.yaml      # its `clean:` section, or the file
  metasynth clean user/finance-metasynth --split train --out clean/ --set language.enabled=false

Exits with status 1 when no document is kept (the report and removed.parquet are still written):
nothing after it (stats, push, train) could use the folder.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from pydantic import ValidationError

from metasynth_hf.clean.config import CleanConfig
from metasynth_hf.clean.io import (
    REMOVED_FILE,
    REPORT_FILE,
    prepare_out_dir,
    write_result,
)
from metasynth_hf.clean.pipeline import clean_corpus
from metasynth_hf.clean.report import empty_fix, removal_reasons
from metasynth_hf.config_io import format_validation_error, parse_override, read_yaml, set_dotted
from metasynth_hf.corpus.load import load_corpus
from metasynth_hf.errors import ConfigError

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (parser.description or "") + "\n\n" + (__doc__ or "").split("\n", 2)[2]
    parser.add_argument(
        "dataset",
        metavar="DATASET",
        help="a directory or file of parquet/jsonl/json records, or a Hub dataset id",
    )
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        help="output directory (data/*.parquet, removed.parquet, clean_report.json)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="YAML with CleanConfig fields, or a run config with a `clean:` section",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a config field, e.g. near.threshold=0.7 (repeatable)",
    )
    parser.add_argument(
        "--eval",
        dest="eval_sets",
        action="append",
        default=[],
        metavar="PATH_OR_ID",
        help="evaluation set to decontaminate against (repeatable; adds to the config's)",
    )
    parser.add_argument("--split", default="train", help="split of a Hub dataset (default: train)")
    parser.add_argument("--hub-config", help="configuration name of a Hub dataset")
    parser.add_argument("--text-field", default="text", help="column holding the document (default: text)")
    parser.add_argument(
        "--id-field",
        default="id",
        help="column holding the record id (default: id; row number if absent)",
    )
    parser.add_argument("--max-rows-per-shard", type=int, default=100_000, help="rows per output parquet file")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier result in --out")


def build_config(path: Path | None, overrides: list[str], eval_sets: list[str]) -> CleanConfig:
    """CleanConfig from YAML (whole file or its `clean:` section), --set and --eval."""
    data = read_yaml(path) if path else {}
    if isinstance(data.get("clean"), dict):
        data = data["clean"]
    elif data and not set(data) & set(CleanConfig.model_fields):
        raise ConfigError(
            f"{path}: neither a `clean:` section nor clean settings (keys: {sorted(data)[:6]}); "
            "add a `clean:` section or pass a file of CleanConfig fields"
        )
    for item in overrides:
        key, value = parse_override(item)
        set_dotted(data, key, value)
    if eval_sets:
        section = data.setdefault("decontamination", {})
        section["eval_sets"] = list(section.get("eval_sets") or []) + [{"path": p} for p in eval_sets]
    try:
        return CleanConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source=str(path or "clean config"))) from exc


def run(args: argparse.Namespace) -> int:
    config = build_config(args.config, args.overrides, args.eval_sets)
    if args.max_rows_per_shard < 1:
        raise ConfigError("--max-rows-per-shard must be at least 1")
    prepare_out_dir(args.out, args.overwrite, check_only=True)  # fail before the long pass, not after
    data = load_corpus(
        args.dataset, column=args.text_field, split=args.split, hub_config=args.hub_config, what="DATASET"
    )
    result = clean_corpus(data, config, text_field=args.text_field, id_field=args.id_field)
    # the run's files travel with its rows, so `metasynth push OUT` describes the run
    write_result(
        result, args.out, max_rows_per_shard=args.max_rows_per_shard, overwrite=True, metadata_from=[args.dataset]
    )
    report = result.report
    summary = {
        "kept": report["kept_documents"],
        "removed": report["removed_documents"],
        "removed_by_rule": report["removed_by_rule"],
    }
    logger.info("clean summary: %s", json.dumps(summary))
    print(
        f"kept {report['kept_documents']} of {report['input_documents']} documents -> {args.out}/data; "
        f"removed {report['removed_documents']} -> {args.out / REMOVED_FILE}; report {args.out / REPORT_FILE}"
    )
    for rule, count in report["removed_by_rule"].items():
        print(f"  {rule}: {count}")
    if report["input_documents"] and not report["kept_documents"]:
        # The result is written (its report says why), but nothing downstream can use it:
        # a script (`set -e`, make, CI) must stop here, not at stats, push or train.
        raise ConfigError(
            f"kept none of the {report['input_documents']} documents of {args.dataset} "
            f"({removal_reasons(report)}; report {args.out / REPORT_FILE}); "
            f"{empty_fix(report, str(args.out / REMOVED_FILE))}"
        )
    return 0
