"""What cleaning did, as one JSON-able dict (provenance, clean_report.json, diversity.json)
and as a Markdown section for the dataset card.

Rule names are `<section>.<criterion>` (e.g. `dedup.near`, `repetition.dup_line`,
`decontamination.gsm8k`), so a reader can sum by section or look at one criterion.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from metasynth_hf.clean.pipeline import Cleaner

REPORT_VERSION = 1


def _section(rule: str) -> str:
    return rule.split(".", 1)[0]


def build_report(cleaner: Cleaner) -> dict[str, Any]:
    """Counts per rule and per section, words in and out, and the exact settings used."""
    by_rule = dict(sorted(cleaner.counts.items()))
    by_section: Counter[str] = Counter()
    for rule, count in by_rule.items():
        by_section[_section(rule)] += count
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "input_documents": cleaner.documents,
        "kept_documents": cleaner.kept,
        "removed_documents": cleaner.documents - cleaner.kept,
        "removed_by_rule": by_rule,
        "removed_by_section": dict(sorted(by_section.items())),
        "input_words": cleaner.words_in,
        "kept_words": cleaner.words_kept,
        "rules_applied": [step.section for step in cleaner.steps],
        "seconds": round(cleaner.elapsed_s, 3),
        "seconds_by_section": {k: round(v, 3) for k, v in cleaner.seconds.items()},
        "config": cleaner.config.model_dump(mode="json"),
    }
    if cleaner.near is not None:
        report["near_dedup_lsh"] = cleaner.near.params
    if cleaner.decontaminator is not None:
        report["eval_sets"] = cleaner.decontaminator.summary
    return report


def render_markdown(report: dict[str, Any]) -> str:
    """A card section: totals, then one table row per rule that removed something."""
    total = report["input_documents"]
    lines = [
        "## Cleaning",
        "",
        f"{report['kept_documents']} of {total} documents kept "
        f"({report['kept_words']} of {report['input_words']} words); "
        f"rules applied in order: {', '.join(report['rules_applied']) or 'none'}.",
        "",
        "| rule | documents removed | share of input |",
        "|---|---:|---:|",
    ]
    for rule, count in report["removed_by_rule"].items():
        share = count / total if total else 0.0
        lines.append(f"| `{rule}` | {count} | {share:.2%} |")
    if not report["removed_by_rule"]:
        lines.append("| (none) | 0 | 0.00% |")
    for eval_set in report.get("eval_sets", []):
        lines.append("")
        lines.append(
            f"Decontaminated against `{eval_set['name']}`: {eval_set['passages']} passages "
            f"({report['config']['decontamination']['ngram']}-gram overlap)."
        )
    lines.append("")
    lines.append(
        "Removed documents are published beside the data (`removed.parquet`) with the rule that removed each."
    )
    return "\n".join(lines) + "\n"


#: What to change when one rule removed the documents (the rule that removed most is named).
RULE_FIXES = {
    "artefacts.unfinished_ending": (
        "the documents stop mid-sentence (generation status `truncated`: cut at max_tokens): generate them "
        "with a larger expert_sampling.max_tokens or with stop.max_words below ~3/4 of it (documents are then "
        "cut back to a full sentence), or keep them by cleaning again with --overwrite --set "
        "artefacts.unfinished_ending=false"
    ),
    "length.too_short": (
        "the documents are shorter than length.min_words: generate longer ones (target_words) or clean "
        "again with --overwrite --set length.min_words=10"
    ),
    "empty": "the documents have no text: generate them again (see their provenance `status`)",
}


def removal_reasons(report: dict[str, Any]) -> str:
    """`artefacts.unfinished_ending: 3, length.too_short: 1`: the rules that removed documents, most first."""
    removed = report.get("removed_by_rule") or {}
    return ", ".join(f"{rule}: {count}" for rule, count in sorted(removed.items(), key=lambda kv: (-kv[1], kv[0])))


def empty_fix(report: dict[str, Any], removed_file: str) -> str:
    """The fix when cleaning kept nothing, for the rule that removed the most documents."""
    removed = report.get("removed_by_rule") or {}
    top = min(removed, key=lambda rule: (-removed[rule], rule)) if removed else ""
    return RULE_FIXES.get(
        top,
        f"read {removed_file} (columns clean_rule, clean_detail) and clean again with --overwrite and that rule "
        "relaxed (--set SECTION.FIELD=VALUE, e.g. --set repetition.enabled=false)",
    )
