"""`metasynth merge DIR [DIR ...] --out OUT`: one dataset from the shards of one run.

Each machine of a Slurm array writes `--shard i/N` into its own dir (or all into one
shared dir). Merging refuses dirs of different runs (fingerprints) or splits (N), drops
nothing, duplicates nothing, orders documents by global index, and writes
`OUT/data/train-*.parquet` (read with `load_dataset("parquet", data_files="OUT/data/*.parquet")`
or `load_dataset("OUT")`), plus the run's fingerprint and summaries for `metasynth push`.

Examples:
  metasynth merge runs/node-*/ --out corpus/finance
  metasynth merge corpus/finance --out corpus/finance     # export one dir's shards to parquet
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = __doc__.split("\n\n", 1)[1]
    parser.add_argument("dirs", nargs="+", help="output dirs of `metasynth generate` (one run)")
    parser.add_argument("--out", required=True, help="folder for data/*.parquet")
    parser.add_argument("--expect-shards", type=int, help="fail unless this many shard files are found")
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="export even when shards are missing or unfinished (a preview, not the corpus)",
    )


def check_complete(dirs: list[Path], records: list, *, allow_partial: bool) -> None:
    """Every shard of the run is here and finished: as many documents as `num_docs` asks (read
    from the run's `metasynth_run.yaml`), and no shard summary reports an error."""
    import json

    import yaml

    from metasynth_hf.corpus.shards import doc_index
    from metasynth_hf.errors import ConfigError

    run_file = next((d / "metasynth_run.yaml" for d in dirs if (d / "metasynth_run.yaml").is_file()), None)
    settings = yaml.safe_load(run_file.read_text()) if run_file else {}
    problems = []
    num_docs, shards = settings.get("num_docs"), settings.get("num_shards", 1)
    if num_docs is not None:
        have = {doc_index(r) for r in records}
        missing = [i for i in range(num_docs) if i not in have]
        if missing:
            by_shard = sorted({i % shards for i in missing})
            problems.append(
                f"{len(missing)} of {num_docs} documents missing (shards {by_shard} of {shards}: "
                "still running, failed or never started)"
            )
    for d in dirs:
        for path in sorted(d.glob("summary-*.json")):
            error = json.loads(path.read_text()).get("error")
            if error:
                problems.append(f"{path} reports an error ({error[:120]})")
    if run_file is None:
        problems.append("no metasynth_run.yaml found, so num_docs is unknown")
    if problems and not allow_partial:
        raise ConfigError(
            "the run is not complete: "
            + "; ".join(problems)
            + "; rerun those shards (they resume), or pass --allow-partial for a preview export"
        )


def run(args: argparse.Namespace) -> int:
    from metasynth_hf.corpus.shards import merged_records, shard_files, write_corpus
    from metasynth_hf.errors import ConfigError

    dirs = [Path(d) for d in args.dirs]
    found = sum(len(shard_files(d)) for d in dirs)
    if args.expect_shards is not None and found != args.expect_shards:
        raise ConfigError(f"found {found} shard files in {', '.join(map(str, dirs))}, expected {args.expect_shards}")
    records = merged_records(dirs)
    check_complete(dirs, records, allow_partial=args.allow_partial)
    out = Path(args.out)
    paths = write_corpus(records, out, metadata_from=dirs)
    tokens = sum(r.num_tokens for r in records)
    print(
        f"merged {len(records)} documents ({tokens} tokens) from {found} shard files into {len(paths)} parquet file(s) under {out / 'data'}"
    )
    return 0
