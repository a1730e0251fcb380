"""The dataset card: facts gathered from a generated output dir, rendered from the template.

Statistics go three ways: the card's YAML (`DatasetCardData` extra keys `metasynth` and
`diversity`, machine-readable on the Hub), the card's Markdown tables, and `diversity.json`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from metasynth_hf.generation.agency import table_cells
from metasynth_hf.generation.methods import conductor_methods
from metasynth_hf.paper import CITATION

TEMPLATE_NAME = "dataset_card_template.md"

_SIZES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]


def template_path() -> Path:
    """The top-level template in a checkout, else the copy shipped as package data."""
    checkout = Path(__file__).resolve().parent.parent / TEMPLATE_NAME
    if checkout.is_file():
        return checkout
    return Path(str(resources.files("metasynth_hf") / "data" / TEMPLATE_NAME))


def size_category(n: int) -> str:
    for bound, label in _SIZES:
        if n < bound:
            return label
    return "1M<n<10M"


def token_histogram(counts: list[int], bins: int = 8) -> list[dict[str, Any]]:
    """Equal-width bins over tokens per document, each with a text bar."""
    if not counts:
        return []
    low, high = min(counts), max(counts)
    width = max(1, math.ceil((high - low + 1) / bins))
    tally = [0] * bins
    for c in counts:
        tally[min((c - low) // width, bins - 1)] += 1
    peak = max(tally)
    rows = []
    for i, n in enumerate(tally):
        start = low + i * width
        rows.append({"range": f"{start}–{start + width - 1}", "count": n, "bar": "█" * round(20 * n / peak)})
    return rows


def diversity_markdown(reports: Mapping[str, dict]) -> str:
    """Metrics as rows, corpora as columns; arrows give the direction of more diverse."""
    names = list(reports)
    metrics: list[str] = []
    for report in reports.values():
        metrics += [m for m in report.get("metrics", {}) if m not in metrics]
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for metric in metrics:
        direction = next(r["metrics"][metric]["direction"] for r in reports.values() if metric in r["metrics"])
        cells = []
        for name in names:
            entry = reports[name]["metrics"].get(metric)
            value = entry.get("value") if entry else None
            cells.append("–" if value is None else f"{value:.4f}")
        arrow = "↑" if direction == "higher" else "↓"
        lines.append(f"| {metric} {arrow} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: Methods whose documents come out of a conductor loop (the others are one templated call).
CONDUCTOR_METHODS = conductor_methods()
_PAPER = "MetaSynth (Riaz et al., Findings of ACL 2025, [arXiv:2504.12563](https://arxiv.org/abs/2504.12563))"


def method_text(facts: Mapping[str, Any]) -> str:
    """What ran for this corpus, in the card's words: true of the method and the settings used."""
    method, domain = facts["method"], facts["domain"]
    table = facts.get("instance_table") or {}
    shown = table.get("max_entries", 12)
    recent = table.get("recent", 4)
    conditioning = (
        f"Before each document, the conductor was shown the instance table: summaries of the earlier "
        f"documents visible to it (index at most i − lanes), all of them while they fit, else the {recent} most "
        f"recent plus the most similar to its seeds, {shown} at most (`instance_table.max_entries`). The "
        "summary and topic label of each finished document were written by fixed bookkeeping calls "
        "(summarizer, topic labeler) with the scaffold's instructions, not the conductor's."
    )
    scaffold = (
        "A scaffold keeps the loop on its rails: it requires some experts before a FINAL "
        f"({', '.join(facts.get('required', [])) or 'none'}), reserves the last of the "
        f"{facts.get('max_turns', '?')} turns for them, and, when a conductor reply cannot be used (not "
        "parseable, instructions empty, the default or the example's placeholder, a repeat) after one "
        "re-ask, runs the next step of a fixed expert order instead. How often each happened is in the "
        "table below and in every record's `provenance.agency`."
    )
    if method == "metasynth":
        return (
            f"This corpus was generated with metasynth-hf, an implementation of {_PAPER}, method "
            f"`metasynth`: for each {domain} document a conductor LLM chose, turn by turn, which expert "
            f"to call ({', '.join(facts.get('experts', [])) or '–'}), wrote the expert's instructions "
            "and shared only the material it picked with it; experts saw nothing else. "
            + scaffold
            + "\n\n"
            + conditioning
        )
    if method == "instruct":
        return (
            f"This corpus was generated with metasynth-hf, an implementation of {_PAPER}, method "
            "`instruct` (MetaSynth-Instruct): for each source document a conductor LLM evolved an "
            "instruction through expert calls it chose and instructed (document transformation, "
            "question editing, role suggestion, complexity), then a responder expert answered the "
            "instruction with fixed instructions. " + scaffold + " The conductor was shown the "
            f"summaries of up to {shown} earlier instructions."
        )
    baseline = {
        "template": "a fixed prompt template filled with the seed keywords, the domain and a length",
        "template_prior": (
            "a fixed prompt template filled with the seed keywords plus excerpts of the latest earlier "
            f"documents visible to it ({facts.get('prior_docs', '?')} at most, `baseline.prior_docs`), asking "
            "for something different"
        ),
        "template_icl": (
            "a fixed prompt template plus excerpts of real domain documents as in-context exemplars "
            f"({facts.get('exemplars', '?')} at most, `baseline.exemplars`, from the topic-aware seeds)"
        ),
    }.get(method, f"method `{method}`")
    return (
        f"This corpus is a template baseline of metasynth-hf (an implementation of {_PAPER}), method "
        f"`{method}`: one model call per document with {baseline}. No conductor, no experts and no "
        "instance table were involved; it is meant for comparison with MetaSynth corpora."
    )


def agency_rows(agency: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The card's table of how much the conductor decided (empty without a conductor)."""
    if not agency:
        return []
    cells = table_cells(agency)
    return [
        ("turns the conductor decided", cells["conductor_turns"]),
        ("turns the scaffold decided, by reason", cells["scaffold_turns"]),
        (
            "expert calls with the conductor's own instructions",
            f"{cells['instructions']} ({cells['instruction_share']}; bookkeeping calls included)",
        ),
        ("loops ended by", cells["final_by"]),
    ]


def _headline_metrics(reports: Mapping[str, dict], main: str | None) -> dict[str, float]:
    if not reports:
        return {}
    report = (reports.get(main) if main is not None else None) or next(iter(reports.values()))
    return {k: v["value"] for k, v in report.get("metrics", {}).items() if v.get("value") is not None}


def build_card(
    facts: Mapping[str, Any],
    counts: list[int],
    *,
    reports: Mapping[str, dict] | None = None,
    main_corpus: str | None = None,
    plots: Sequence[str] = (),
    cleaning: Mapping[str, int] | None = None,
    repo_id: str | None = None,
    comparison: str = "",
) -> DatasetCard:
    """Render the card; `facts` come from `metasynth_hf.hub.gather_facts`, `counts` are the
    documents' token counts, `comparison` a `metasynth compare` results section (markdown)."""
    domain, method = facts["domain"], facts["method"]
    headline = _headline_metrics(reports or {}, main_corpus)
    card_data = DatasetCardData(
        language=["en"],
        license=facts.get("license", "other"),
        pretty_name=facts.get("pretty_name") or f"MetaSynth {domain} ({method})",
        task_categories=["text-generation"],
        size_categories=[size_category(len(counts))],
        tags=list(dict.fromkeys(["synthetic", "metasynth", domain, method])),
        metasynth={
            "method": method,
            "domain": domain,
            "fingerprint": facts["fingerprint"],
            "prompt_set": facts["prompt_set"],
            **(
                {"conductor_model": facts["conductor_model"], "expert_model": facts["expert_model"]}
                if method in CONDUCTOR_METHODS
                else {"model": facts["expert_model"]}
            ),
            "documents": len(counts),
            "tokens": sum(counts),
            "cleaning": dict(cleaning or {}),
            **({"agency": dict(facts["agency"])} if facts.get("agency") else {}),
        },
        diversity=headline,
    )
    return DatasetCard.from_template(
        card_data,
        template_path=str(template_path()),
        pretty_name=card_data.pretty_name,
        summary=facts.get("summary")
        or f"{len(counts)} synthetic {domain} documents ({sum(counts)} tokens) made with `{method}`"
        + (f", published as `{repo_id}`." if repo_id else "."),
        method_text=method_text(facts),
        has_conductor=method in CONDUCTOR_METHODS,
        agency=agency_rows(facts.get("agency") or {}),
        domain=domain,
        method=method,
        seeds=facts.get("seeds", "keyword"),
        conductor_model=facts["conductor_model"],
        expert_model=facts["expert_model"],
        experts=", ".join(facts.get("experts", [])) or "–",
        prompt_set=facts["prompt_set"],
        fingerprint=facts["fingerprint"],
        shards=facts.get("shards", 1),
        calls=facts.get("calls", 0),
        cache_hits=facts.get("cache_hits", 0),
        fallbacks=facts.get("fallbacks", 0),
        num_documents=len(counts),
        num_tokens=sum(counts),
        mean_tokens=round(sum(counts) / len(counts), 1) if counts else 0,
        min_tokens=min(counts, default=0),
        max_tokens=max(counts, default=0),
        token_histogram=token_histogram(counts),
        cleaning=dict(cleaning or {}),
        diversity_table=diversity_markdown(reports) if reports else "",
        plots=list(plots),
        comparison=comparison.strip(),
        citation=CITATION,
        reproduce=facts.get("reproduce", "metasynth generate --config metasynth_run.yaml"),
    )


def load_reports(path: Path) -> dict[str, dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if all(isinstance(v, dict) and "metrics" in v for v in data.values()) else {}


def card_section(results_text: str) -> str:
    """A results file (e.g. `metasynth compare`'s) as a section of a dataset card: every
    heading one level down, so it nests under the card's own headings."""
    lines = results_text.splitlines()
    return "\n".join("#" + ln if ln.startswith("#") else ln for ln in lines) + "\n"
