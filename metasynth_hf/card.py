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
from metasynth_hf.generation.methods import conductor_methods, producer_class
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


def method_text(facts: Mapping[str, Any]) -> str:
    """What ran for this corpus, in the card's words: each method describes itself
    (`Producer.describe`, in its own module under generation/methods/)."""
    return producer_class(facts["method"]).describe(facts)


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
