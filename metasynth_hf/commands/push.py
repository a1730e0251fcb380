r"""`metasynth push DIR --repo-id user/name`: upload a generated corpus and its dataset card.

Data (parquet under data/), diversity.json, plots and the run config go first, the card
(README.md, rendered from dataset_card_template.md) last. The token comes from HF_TOKEN or
`hf auth login` and is never printed or written. `--dry-run` stages everything locally.

Examples:
  metasynth push corpus/finance --repo-id you/finance-metasynth --private
  metasynth push corpus/finance --repo-id you/finance-metasynth --dry-run
  metasynth push corpus/finance-clean --repo-id you/finance --stats-dir stats/ --license cc-by-4.0
  metasynth push experiments/small/corpora/metasynth_keyword --repo-id you/py-docs \
      --results docs/results.md     # with the comparison
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = __doc__.split("\n\n", 1)[1]
    parser.add_argument("dir", help="output dir of `metasynth generate`")
    parser.add_argument("--repo-id", required=True, help="Hub dataset repo, user/name")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument(
        "--stats-dir",
        help="a `metasynth stats` output whose diversity.json has an entry computed on DIR's rows, matched by "
        "fingerprint; others are refused (default: DIR/stats if present)",
    )
    parser.add_argument("--no-stats", action="store_true", help="publish no statistics, even if DIR/stats exists")
    parser.add_argument(
        "--license",
        help="the dataset's Hub licence id, e.g. cc-by-4.0 (default: the generator models' licence when "
        "metasynth-hf knows it, e.g. apache-2.0 for SmolLM2; else required)",
    )
    parser.add_argument("--results", help="a `metasynth compare` results file to add to the card, with its plots")
    parser.add_argument("--staging-dir", help="where to stage the upload (default: DIR/hub)")
    parser.add_argument("--dry-run", action="store_true", help="stage only; upload nothing")


def run(args: argparse.Namespace) -> int:
    from metasynth_hf.hub import check_repo_id, push, stage

    if args.dry_run:
        folder = stage(
            args.dir,
            args.staging_dir,
            repo_id=check_repo_id(args.repo_id),
            stats_dir=args.stats_dir,
            results=args.results,
            license=args.license,
            stats=not args.no_stats,
        )
        print(f"staged {folder} (dry run: nothing uploaded)")
        return 0
    url = push(
        args.dir,
        args.repo_id,
        private=args.private,
        staging=args.staging_dir,
        stats_dir=args.stats_dir,
        results=args.results,
        license=args.license,
        stats=not args.no_stats,
    )
    print(f"pushed {url}")
    return 0
