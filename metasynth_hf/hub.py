"""Publish a generated corpus: stage parquet data, statistics, plots and the card, then push.

Everything that can fail locally happens first (repo id, token, readable shards of one run,
a writable staging folder); data is uploaded before the card, so a card never describes
data that is not there. The token is passed to huggingface_hub only: never printed,
logged, written to the card, the staging folder or provenance.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import HfApi, get_token
from huggingface_hub.errors import HFValidationError, OfflineModeIsEnabled
from huggingface_hub.utils import validate_repo_id

from metasynth_hf.card import build_card, card_section
from metasynth_hf.card_facts import (
    CLEAN_CONFIG_FILE,
    CLEAN_REPORT_FILE,
    RUN_CONFIG_FILE,
    choose_license,
    generator_models,
    reply_caps,
    reproduce,
    role_models,
)
from metasynth_hf.config import DEFAULT_REQUIRED
from metasynth_hf.corpus.load import empty_corpus_error
from metasynth_hf.corpus.records import rows_fingerprint
from metasynth_hf.corpus.shards import as_row, merged_records, write_corpus
from metasynth_hf.errors import ConfigError, MetaSynthError
from metasynth_hf.generation.agency import merge_totals
from metasynth_hf.hub_stats import find_stats, match_stats, stage_stats

logger = logging.getLogger(__name__)

UPLOAD_PATTERNS = [
    "data/*.parquet",
    "diversity.json",
    "plots/*.png",
    "results/*.png",
    RUN_CONFIG_FILE,
    CLEAN_REPORT_FILE,
    CLEAN_CONFIG_FILE,
]


def check_repo_id(repo_id: str) -> str:
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise ConfigError(f"--repo-id {repo_id!r} is not a valid Hub repo id ({exc}); use 'user/name'") from exc
    if "/" not in repo_id:
        raise ConfigError(f"--repo-id {repo_id!r} needs a namespace: 'user/name' or 'org/name'")
    return repo_id


def require_token(token: str | None = None) -> str:
    token = token or get_token()
    if not token:
        raise ConfigError("no Hugging Face token: set HF_TOKEN or run `hf auth login`, then push again")
    return token


def _loop_rules(fields: dict[str, Any]) -> dict[str, Any]:
    """The scaffold's rules as configured: required steps before FINAL and the turn budget."""
    if fields.get("method") == "instruct":
        instruct = fields.get("instruct") or {}
        rounds = instruct.get("rounds", 1)
        return {"required": [f"question_editor ×{rounds + 1}"], "max_turns": instruct.get("max_turns", "?")}
    required = fields.get("required_experts")
    if required is None:
        required = [e for e in DEFAULT_REQUIRED if e in fields.get("expert_set", [])]
    return {"required": list(required), "max_turns": (fields.get("stop") or {}).get("max_turns", "?")}


def gather_facts(out_dir: Path) -> dict[str, Any]:
    """What the card says about a run, read from its output dir."""
    stored = json.loads((out_dir / "fingerprint.json").read_text())
    fields = stored.get("fields", {})
    summaries = [json.loads(p.read_text()) for p in sorted(out_dir.glob("summary-*.json"))]
    seeds = fields.get("seeds", {})
    domain = fields.get("domain", "?")
    facts = {
        "fingerprint": stored["fingerprint"],
        "domain": domain if isinstance(domain, str) else domain.get("name", "custom"),
        "method": fields.get("method", "?"),
        "seeds": seeds.get("kind", "keyword") if isinstance(seeds, dict) else str(seeds),
        "models": generator_models(fields),
        "conductor_model": ", ".join(m for m, _ in role_models(fields.get("conductor_model", "?"))),
        "expert_model": ", ".join(m for m, _ in role_models(fields.get("expert_model", "?"))),
        "reply_caps": reply_caps(fields),
        "experts": fields.get("expert_set", []),
        "prompt_set": fields.get("prompt_set", "?"),
        "calls": sum(s.get("calls", 0) for s in summaries),
        "cache_hits": sum(s.get("cache_hits", 0) for s in summaries),
        "fallbacks": sum(s.get("fallbacks", 0) for s in summaries),
        "agency": merge_totals(s.get("agency", {}) for s in summaries),
        "instance_table": fields.get("instance_table", {}),
        **_loop_rules(fields),
        "prior_docs": (fields.get("baseline") or {}).get("prior_docs", "?"),
        "exemplars": (fields.get("baseline") or {}).get("exemplars", "?"),
    }
    facts.update(reproduce(out_dir))
    return facts


_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def comparison_section(results: Path, staging: Path) -> str:
    """A `metasynth compare` results file as a card section; its plots go to staging/results/.

    Image links are resolved against the results file and rewritten to the staged copies, so
    the card shows them on the Hub; an image that is not there is named in the error.
    """
    if not results.is_file():
        raise ConfigError(f"--results {results} does not exist; run `metasynth compare` first")
    text = results.read_text(encoding="utf-8")
    links = {m.group(2) for m in _IMAGE.finditer(text)}
    local = {link for link in links if not re.match(r"^[a-z]+://", link)}
    missing = sorted(link for link in local if not (results.parent / link).is_file())
    if missing:  # checked before anything is copied
        raise ConfigError(
            f"--results {results} shows {', '.join(missing)}, which is missing; rerun "
            "`metasynth compare` with plots or pass a results file whose images exist"
        )
    if local:
        (staging / "results").mkdir(exist_ok=True)

    def stage_image(match: re.Match) -> str:
        title, link = match.groups()
        if link not in local:
            return match.group(0)
        source = results.parent / link
        shutil.copy2(source, staging / "results" / source.name)
        return f"![{title}](results/{source.name})"

    return card_section(_IMAGE.sub(stage_image, text))


def _writable(folder: Path) -> None:
    target = folder if folder.exists() else folder.parent
    if not os.access(target, os.W_OK):
        raise ConfigError(f"staging folder {folder} is not writable; pass --staging-dir to a writable place")


def _clear_stale_stats(staging: Path, sources: list[Path]) -> None:
    """A staging folder used before may hold statistics of other rows: remove them (never in a
    folder the statistics are read from), so only this push's files are uploaded."""
    if any(staging.resolve() == source.resolve() for source in sources):
        return
    (staging / "diversity.json").unlink(missing_ok=True)
    shutil.rmtree(staging / "plots", ignore_errors=True)


def corpus_records(out_dir: Path) -> list:
    """The rows to publish: a cleaned corpus's `data/*.parquet` (the cleaning wrote them, and
    `clean_report.json` says so), else the run's shards, merged and checked."""
    from metasynth_hf.corpus.records import RECORD_FIELDS, Record

    if (out_dir / "clean_report.json").is_file() and list((out_dir / "data").glob("*.parquet")):
        import pyarrow.parquet as pq

        rows = []
        for path in sorted((out_dir / "data").glob("*.parquet")):
            rows += pq.read_table(path).to_pylist()
        return [Record(**{name: row.get(name) for name in RECORD_FIELDS}) for row in rows]
    return merged_records([out_dir])


def stage(
    out_dir: str | Path,
    staging: str | Path | None = None,
    *,
    repo_id: str | None = None,
    stats_dir: str | Path | None = None,
    results: str | Path | None = None,
    license: str | None = None,
    stats: bool = True,
) -> Path:
    """Build the folder to upload: data/*.parquet, README.md (card), statistics and plots.

    The statistics are the entry of the stats folder computed on exactly these rows
    (`hub_stats.match_stats`); `stats=False` publishes none. `results` (a `metasynth compare`
    markdown file) adds the comparison to the card; `license` is the dataset's Hub licence id
    (default: the generator models', `choose_license`).
    """
    out_dir = Path(out_dir)
    staging = Path(staging) if staging else out_dir / "hub"
    records = corpus_records(out_dir)  # refuses mixed runs before anything is written
    if not records:
        raise empty_corpus_error(out_dir, "DIR")
    facts = gather_facts(out_dir)
    facts["license"], facts["license_source"] = choose_license(license, facts["models"])
    facts["rows_fingerprint"] = rows_fingerprint((r.id, r.text) for r in records)
    folder = find_stats(out_dir, Path(stats_dir) if stats_dir else None) if stats else None
    matched = match_stats(folder, out_dir, facts["rows_fingerprint"], len(records)) if folder else None
    cleaning = None
    if (out_dir / CLEAN_REPORT_FILE).is_file():
        cleaning = json.loads((out_dir / CLEAN_REPORT_FILE).read_text())
    _writable(staging)
    try:
        staging.mkdir(parents=True, exist_ok=True)
        _clear_stale_stats(staging, [out_dir, out_dir / "stats", *([folder] if folder else [])])
        comparison = comparison_section(Path(results), staging) if results else ""
        files = write_corpus(records, staging)
        plots = stage_stats(matched, staging, len(records)) if matched else []
        for name in (RUN_CONFIG_FILE, CLEAN_REPORT_FILE):
            if (out_dir / name).is_file():
                shutil.copy2(out_dir / name, staging / name)
        if cleaning and "config" in cleaning:
            facts["clean_config"] = CLEAN_CONFIG_FILE
            (staging / CLEAN_CONFIG_FILE).write_text(yaml.safe_dump(cleaning["config"], sort_keys=False))
        statuses = Counter(str(r.provenance_dict["status"]) for r in records if "status" in r.provenance_dict)
        facts.update(data_files=[f.name for f in files], statuses=dict(statuses), example=as_row(records[0]))
        card = build_card(
            facts,
            [r.num_tokens for r in records],
            reports=matched.reports if matched else None,
            main_corpus=matched.name if matched else None,
            plots=plots,
            cleaning=cleaning,
            repo_id=repo_id,
            comparison=comparison,
        )
        card.save(str(staging / "README.md"))
    except OSError as exc:
        hint = "the disk is full; free space or use --staging-dir" if exc.errno == errno.ENOSPC else str(exc)
        raise ConfigError(f"cannot write the staging folder {staging}: {hint}") from exc
    return staging


def push(
    out_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    staging: str | Path | None = None,
    stats_dir: str | Path | None = None,
    results: str | Path | None = None,
    license: str | None = None,
    stats: bool = True,
) -> str:
    """Stage, then upload data first and the card last. Returns the dataset URL."""
    check_repo_id(repo_id)
    token = require_token(token)
    folder = stage(
        out_dir, staging, repo_id=repo_id, stats_dir=stats_dir, results=results, license=license, stats=stats
    )
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type="dataset",
            allow_patterns=UPLOAD_PATTERNS,
            commit_message="Upload MetaSynth corpus",
        )
        api.upload_file(
            path_or_fileobj=str(folder / "README.md"),
            path_in_repo="README.md",
            repo_id=repo_id,
            repo_type="dataset",
            commit_message="Add dataset card",
        )
    except OfflineModeIsEnabled as exc:
        raise MetaSynthError(
            f"HF_HUB_OFFLINE is set, so nothing was uploaded; the upload is staged in {folder}. "
            "Unset HF_HUB_OFFLINE and push again"
        ) from exc
    logger.info("pushed %s", url)
    return str(url)
