"""The dataset card's computed passages: the token histogram, the diversity table, the
generator models with their licences, the limitations about cut and removed documents, and
the example record. `card.build_card` puts them into the template."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from metasynth_hf.generation.methods import conductor_methods
from metasynth_hf.models import KNOWN_MODELS

#: Fewer documents than this and a histogram or an embedding map shows nothing worth a figure.
MIN_DOCUMENTS_FOR_PLOTS = 10
#: Provenance statuses of a document whose loop ended with a FINAL (the others were stopped).
FINISHED_STATUSES = ("final", "final_fallback")
EXAMPLE_CHARS, EXAMPLE_PROVENANCE_CHARS = 300, 200

#: Methods whose documents come out of a conductor loop (the others are one templated call).
CONDUCTOR_METHODS = conductor_methods()


def token_histogram(counts: list[int], bins: int | None = None) -> list[dict[str, Any]]:
    """Equal-width bins over tokens per document (about √n of them, 8 at most), each with a text bar."""
    if not counts:
        return []
    bins = bins or min(8, max(2, round(math.sqrt(len(counts)))))
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


def diversity_markdown(reports: Mapping[str, dict], main: str | None = None) -> str:
    """Metrics as rows, corpora as columns (`main`, this corpus, first); arrows give the direction
    of more diverse, and each row says what the metric measures."""
    main = main if main in reports else next(iter(reports), None)
    names = [n for n in [main, *reports] if n is not None]
    names = list(dict.fromkeys(names))
    metrics: list[str] = []
    for name in names:
        metrics += [m for m in reports[name].get("metrics", {}) if m not in metrics]
    headers = [f"{n} (this corpus)" if n == main else n for n in names]
    lines = ["| metric | " + " | ".join(headers) + " | meaning |", "|---|" + "---|" * (len(names) + 1)]
    for metric in metrics:
        entries = [reports[n]["metrics"][metric] for n in names if metric in reports[n]["metrics"]]
        cells = []
        for name in names:
            value = (reports[name]["metrics"].get(metric) or {}).get("value")
            cells.append("–" if value is None else f"{value:.4f}")
        arrow = "↑" if entries[0]["direction"] == "higher" else "↓"
        meaning = entries[0].get("meaning", "")
        lines.append(f"| {metric} {arrow} | " + " | ".join(cells) + f" | {meaning} |")
    return "\n".join(lines)


def model_entries(facts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The generator models, one entry per model id with the roles it played, its weights note,
    and its licence and size where `models.KNOWN_MODELS` knows them. From `facts["models"]`
    (`hub.gather_facts`) or, without it, the `conductor_model` / `expert_model` ids."""
    listed = facts.get("models")
    if not listed:
        roles = [("conductor", "conductor_model"), ("expert", "expert_model")]
        if facts["method"] not in CONDUCTOR_METHODS:
            roles = [("writer", "expert_model")]
        listed = [{"role": role, "id": facts[key], "note": ""} for role, key in roles]
    grouped: dict[str, dict[str, Any]] = {}
    for entry in listed:
        model = grouped.setdefault(entry["id"], {"id": entry["id"], "note": entry.get("note") or "", "roles": []})
        model["roles"].append(entry["role"])
    for model in grouped.values():
        known = KNOWN_MODELS.get(model["id"])
        model["label"] = f"`{model['id']}`" + (f" ({model['note']})" if model["note"] else "")
        model["license"] = known.license if known else None
        model["parameters"] = known.parameters if known else None
    return list(grouped.values())


def role_label(models: list[dict[str, Any]], role: str) -> str:
    return ", ".join(m["label"] for m in models if role in m["roles"])


def writers_text(models: list[dict[str, Any]]) -> str:
    """Who wrote the text: the models of the writing roles, and the conductor that directed them."""
    writers = [m for m in models if set(m["roles"]) - {"conductor"}]
    conductors = [m for m in models if m["roles"] == ["conductor"]]
    text = " and ".join(
        m["label"] + (", which was also the conductor" if "conductor" in m["roles"] else "") for m in writers
    )
    return text + (f", directed by the conductor {', '.join(m['label'] for m in conductors)}" if conductors else "")


def small_models_text(models: list[dict[str, Any]]) -> str:
    """A warning about writers under a billion parameters, where their size is known."""
    small = [m for m in models if (m["parameters"] or "").endswith("M") and set(m["roles"]) - {"conductor"}]
    if not small:
        return ""
    names = " and ".join(f"`{m['id']}` has {m['parameters']} parameters" for m in small)
    return f"{names}: expect incoherent passages, repetition and invented facts."


def counted(tally: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(tally.items(), key=lambda kv: -kv[1]))


def cut_text(facts: Mapping[str, Any], n: int) -> str:
    """The limitation about documents stopped before their end, from provenance and the caps."""
    caps = facts.get("reply_caps") or {}
    cap = (
        "Each model reply was capped at "
        + " and ".join(f"{tokens} tokens ({role})" for role, tokens in caps.items())
        + ", so a document can stop mid-sentence. "
        if caps
        else ""
    )
    statuses = facts.get("statuses") or {}
    stopped = {s: k for s, k in statuses.items() if s not in FINISHED_STATUSES}
    if stopped:
        return (
            f"{cap}{sum(stopped.values())} of the {n} documents were stopped before their end (provenance "
            f"`status`: {counted(stopped)}): the text is what the run had by then."
        )
    if statuses:
        return (
            f"{cap}No document was stopped by a turn or token-budget limit (provenance `status`: {counted(statuses)})."
        )
    return f"{cap}How each document ended is in its provenance `status`."


def removed_text(cleaning: Mapping[str, Any] | None) -> str:
    if not cleaning:
        return "Not deduplicated, filtered or decontaminated: near copies and low-quality documents may be in it."
    removed = cleaning["input_documents"] - cleaning["kept_documents"]
    return (
        f"{removed} of the {cleaning['input_documents']} generated documents were removed by cleaning "
        f"({counted(cleaning.get('removed_by_rule') or {}) or 'no rule removed any'}); what the rules "
        "miss is still in it."
    )


def example_json(record: Mapping[str, Any] | None) -> str:
    """One record as JSON, its `text` and `provenance` cut for the card."""
    if not record:
        return ""
    shown = dict(record)
    for key, limit in (("text", EXAMPLE_CHARS), ("provenance", EXAMPLE_PROVENANCE_CHARS)):
        value = shown.get(key)
        if isinstance(value, str) and len(value) > limit:
            shown[key] = value[:limit] + "…"
    return json.dumps(shown, ensure_ascii=False, indent=2)
