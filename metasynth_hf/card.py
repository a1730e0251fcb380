"""The dataset card: facts gathered from a corpus folder, rendered from the template.

Statistics go three ways: the card's YAML (`DatasetCardData` extra keys `metasynth` and
`diversity`, machine-readable on the Hub), the card's Markdown tables, and `diversity.json`.
Every number describes the rows published with the card (`metasynth_hf.hub.stage` matches the
statistics to them); other corpora appear only as labelled comparison columns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from metasynth_hf.card_text import (
    CONDUCTOR_METHODS,
    EXAMPLE_CHARS,
    EXAMPLE_PROVENANCE_CHARS,
    MIN_DOCUMENTS_FOR_PLOTS,
    counted,
    cut_text,
    diversity_markdown,
    example_json,
    model_entries,
    removed_text,
    role_label,
    small_models_text,
    token_histogram,
    writers_text,
)
from metasynth_hf.corpus.records import FIELD_MEANINGS
from metasynth_hf.generation.agency import table_cells
from metasynth_hf.generation.methods import producer_class
from metasynth_hf.paper import CITATION

TEMPLATE_NAME = "dataset_card_template.md"
PLOT_TITLES = {
    "diversity_panels.png": "diversity metrics, this corpus beside the corpora scored with it",
    "embedding_map.png": "document embeddings (PCA)",
}

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


def _cleaning_yaml(cleaning: Mapping[str, Any] | None) -> dict[str, Any]:
    if not cleaning:
        return {}
    keys = ("input_documents", "kept_documents", "removed_by_rule")
    return {k: cleaning[k] for k in keys if k in cleaning}


def _card_data(facts: Mapping[str, Any], counts: list[int], cleaning, headline, models) -> DatasetCardData:
    domain, method = facts["domain"], facts["method"]
    return DatasetCardData(
        language=["en"],
        license=facts.get("license", "other"),
        pretty_name=facts.get("pretty_name") or f"MetaSynth {domain} ({method})",
        task_categories=["text-generation"],
        size_categories=[size_category(len(counts))],
        tags=list(dict.fromkeys(["synthetic", "metasynth", domain, method])),
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": "data/*.parquet"}]}],
        metasynth={
            "method": method,
            "domain": domain,
            "fingerprint": facts["fingerprint"],
            **({"rows_fingerprint": facts["rows_fingerprint"]} if facts.get("rows_fingerprint") else {}),
            "prompt_set": facts["prompt_set"],
            **(
                {"conductor_model": facts["conductor_model"], "expert_model": facts["expert_model"]}
                if method in CONDUCTOR_METHODS
                else {"model": facts["expert_model"]}
            ),
            "model_licenses": {m["id"]: m["license"] for m in models if m["license"]},
            "documents": len(counts),
            "tokens": sum(counts),
            "data_files": len(facts.get("data_files") or []) or facts.get("shards", 1),
            "cleaning": _cleaning_yaml(cleaning),
            **({"agency": dict(facts["agency"])} if facts.get("agency") else {}),
        },
        diversity=headline,
    )


def build_card(
    facts: Mapping[str, Any],
    counts: list[int],
    *,
    reports: Mapping[str, dict] | None = None,
    main_corpus: str | None = None,
    plots: Sequence[str] = (),
    cleaning: Mapping[str, Any] | None = None,
    repo_id: str | None = None,
    comparison: str = "",
) -> DatasetCard:
    """Render the card. `facts` come from `metasynth_hf.hub.gather_facts` (plus what staging
    adds: data files, an example record, statuses, licence), `counts` are the published
    documents' token counts, `reports` the statistics of these rows (`main_corpus`) and of the
    corpora scored with them, `cleaning` the corpus's clean_report.json, `comparison` a
    `metasynth compare` results section (markdown)."""
    domain, method = facts["domain"], facts["method"]
    reports = reports or {}
    main = main_corpus if main_corpus in reports else next(iter(reports), None)
    models = model_entries(facts)
    card_data = _card_data(facts, counts, cleaning, _headline_metrics(reports, main), models)
    n = len(counts)
    generated = f", {cleaning['kept_documents']} kept of {cleaning['input_documents']} generated" if cleaning else ""
    files = facts.get("data_files") or []
    return DatasetCard.from_template(
        card_data,
        template_path=str(template_path()),
        pretty_name=card_data.pretty_name,
        summary=facts.get("summary")
        or f"{n} synthetic {domain} documents ({sum(counts)} tokens{generated}) made with `{method}`"
        + (f", published as `{repo_id}`." if repo_id else "."),
        method_text=method_text(facts),
        fields=list(FIELD_MEANINGS.items()),
        data_files=f"{len(files)} parquet file(s) under `data/`" if files else "parquet files under `data/`",
        example=example_json(facts.get("example")),
        example_chars=EXAMPLE_CHARS,
        example_provenance_chars=EXAMPLE_PROVENANCE_CHARS,
        has_conductor=method in CONDUCTOR_METHODS,
        agency=agency_rows(facts.get("agency") or {}),
        domain=domain,
        method=method,
        seeds=facts.get("seeds", "keyword"),
        conductor_model=role_label(models, "conductor"),
        expert_model=role_label(models, "expert" if method in CONDUCTOR_METHODS else "writer"),
        experts=", ".join(facts.get("experts", [])) or "–",
        prompt_set=facts["prompt_set"],
        fingerprint=facts["fingerprint"],
        calls=facts.get("calls", 0),
        cache_hits=facts.get("cache_hits", 0),
        fallbacks=facts.get("fallbacks", 0),
        statuses=counted(facts.get("statuses") or {}),
        num_documents=n,
        num_tokens=sum(counts),
        mean_tokens=round(sum(counts) / n, 1) if counts else 0,
        min_tokens=min(counts, default=0),
        max_tokens=max(counts, default=0),
        token_histogram=token_histogram(counts) if n >= MIN_DOCUMENTS_FOR_PLOTS else [],
        cleaning=_cleaning_values(cleaning),
        clean_config=facts.get("clean_config"),
        diversity_table=diversity_markdown(reports, main) if reports else "",
        rows_fingerprint=facts.get("rows_fingerprint", "?"),
        main_corpus=main,
        other_corpora=", ".join(
            f"{name} ({r.get('num_documents', '?')} documents{', real text' if r.get('is_reference') else ''})"
            for name, r in reports.items()
            if name != main
        ),
        plots=[(p, PLOT_TITLES.get(Path(p).name, Path(p).stem)) for p in plots],
        comparison=comparison.strip(),
        writers=writers_text(models),
        small_models=small_models_text(models),
        cut_text=cut_text(facts, n),
        removed_text=removed_text(cleaning),
        license=card_data.license,
        license_source=facts.get("license_source", "as given to `metasynth push --license`"),
        models=models,
        citation=CITATION,
        reproduce=facts.get("reproduce", ""),
        reproduce_files=facts.get("reproduce_files", ""),
    )


def _cleaning_values(cleaning: Mapping[str, Any] | None) -> dict[str, Any]:
    if not cleaning:
        return {}
    return {
        **cleaning,
        "removed_by_rule": dict(cleaning.get("removed_by_rule") or {}),
        "rules": ", ".join(cleaning.get("rules_applied") or []) or "none",
    }


def load_reports(path: Path) -> dict[str, dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if all(isinstance(v, dict) and "metrics" in v for v in data.values()) else {}


def card_section(results_text: str) -> str:
    """A results file (e.g. `metasynth compare`'s) as a section of a dataset card: every
    heading one level down, so it nests under the card's own headings."""
    lines = results_text.splitlines()
    return "\n".join("#" + ln if ln.startswith("#") else ln for ln in lines) + "\n"
