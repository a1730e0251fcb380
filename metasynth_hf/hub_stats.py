"""The statistics a dataset card may show: the entry of a `metasynth stats` folder that was
computed on exactly the rows being pushed, found by its rows fingerprint.

`metasynth stats` records `rows_fingerprint` (`corpus.records.rows_fingerprint` of the ids and
texts it scored) for every corpus in `diversity.json`; `metasynth push` computes the same hash
of the rows it publishes and takes the entry that matches, wherever it sits in a multi-corpus
folder (`metasynth stats A --compare B`). No match is an error naming both sides: the
statistics are not recomputed behind the user's back, because that needs the metrics extra
and minutes of CPU, and would drop the settings (metrics, reference corpus, seed) the user
chose when running `metasynth stats`.
"""

from __future__ import annotations

import json
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from metasynth_hf.card import MIN_DOCUMENTS_FOR_PLOTS, PLOT_TITLES, load_reports
from metasynth_hf.errors import ConfigError

STATS_FILE = "diversity.json"


@dataclass(frozen=True)
class MatchedStats:
    """The stats folder, the name of this corpus's entry, and every report with it first."""

    folder: Path
    name: str
    reports: dict[str, dict]


def find_stats(out_dir: Path, stats_dir: Path | None) -> Path | None:
    """`stats_dir` when given (it must hold diversity.json), else DIR/stats or DIR, else None."""
    if stats_dir is not None:
        if not (stats_dir / STATS_FILE).is_file():
            raise ConfigError(
                f"--stats-dir {stats_dir} has no {STATS_FILE}; run `metasynth stats {shlex.quote(str(out_dir))} "
                f"--out {shlex.quote(str(stats_dir))}` first"
            )
        return stats_dir
    for folder in (out_dir / "stats", out_dir):
        if (folder / STATS_FILE).is_file():
            return folder
    return None


def match_stats(folder: Path, out_dir: Path, fingerprint: str, num_rows: int) -> MatchedStats:
    """The entry of `folder/diversity.json` whose rows fingerprint is `fingerprint` (the rows
    pushed from `out_dir`); a one-line ConfigError naming both sides when there is none."""
    path = folder / STATS_FILE
    try:
        reports = load_reports(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not readable JSON ({exc}); rerun `metasynth stats`") from exc
    fix = (
        f"run `metasynth stats {shlex.quote(str(out_dir))} --out {shlex.quote(str(out_dir / 'stats'))}` "
        "(add --compare/--reference as you like) and push again, or push with --no-stats"
    )
    if not reports:
        raise ConfigError(f"{path} is not a `metasynth stats` output (no per-corpus metrics); {fix}")
    matches = [name for name, report in reports.items() if report.get("rows_fingerprint") == fingerprint]
    if not matches:
        held = "; ".join(
            f"{name}: {report.get('num_documents', '?')} documents, {report.get('rows_fingerprint') or 'no fingerprint'}"
            for name, report in reports.items()
        )
        why = (
            "records no rows fingerprints (written by `metasynth compare`, which scores cut corpora, or by an "
            "older `metasynth stats`)"
            if not any(r.get("rows_fingerprint") for r in reports.values())
            else "has no entry computed on these rows"
        )
        raise ConfigError(
            f"{path} {why}: it holds {held}, while {out_dir} publishes {num_rows} rows with {fingerprint}; {fix}"
        )
    name = matches[0]
    return MatchedStats(folder, name, {name: reports[name], **{k: v for k, v in reports.items() if k != name}})


def stage_stats(matched: MatchedStats, staging: Path, num_documents: int) -> list[str]:
    """Write diversity.json (this corpus first) and copy the plots worth showing: the diversity
    panel and the embedding map, only when the corpus has enough documents to draw them.
    Returns the staged plot paths, relative to `staging`."""
    text = json.dumps(matched.reports, indent=2, ensure_ascii=False) + "\n"
    (staging / STATS_FILE).write_text(text, encoding="utf-8")
    if num_documents < MIN_DOCUMENTS_FOR_PLOTS:
        return []
    plots = []
    for name in PLOT_TITLES:
        if (matched.folder / name).is_file():
            (staging / "plots").mkdir(exist_ok=True)
            shutil.copy2(matched.folder / name, staging / "plots" / name)
            plots.append(f"plots/{name}")
    return plots
