"""`docs/results.md` from what `metasynth compare` measured (comparison.json, cpt.json).

Everything in the file comes from the measured JSON or from the experiment's context file (the
paper's values with their source, the limits of the run); the observed ordering is computed,
not written by hand.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metasynth_hf.generation.agency import table_cells
from metasynth_hf.metrics.config import METRICS

_SIZE_LIMIT = """\
- **Corpus size.** {num_docs} documents per method: lexical ratios (compression ratio, n-gram
  diversity) depend strongly on corpus length, Vendi is bounded by the number of documents,
  MAUVE is computed from very few points, and Task2Vec batches overlap heavily. Differences of
  a few percent between corpora are within noise at this size. Corpora also differ in tokens
  (see Generation cost), which moves the lexical ratios by itself, and the real reference has
  more documents than each synthetic corpus (its Vendi score is not comparable)."""
#: Below this many documents per method the lexical and distributional metrics are noise-bound.
SMALL_CORPUS = 500


def load_context(paths: Sequence[Path]) -> dict[str, Any]:
    """The experiment's fixed context (`context:` YAML files): `paper` (a table quoted with its
    source; the last file holding one wins) and `limits` (markdown paragraphs, all files')."""
    from metasynth_hf.config_io import read_yaml
    from metasynth_hf.errors import ConfigError

    merged: dict[str, Any] = {"paper": None, "limits": []}
    for path in paths:
        context = read_yaml(path)
        paper = context.get("paper")
        if paper is not None:
            if not isinstance(paper, dict) or not {"source", "metrics", "rows"} <= paper.keys():
                raise ConfigError(
                    f"{path}: `paper` needs source, metrics and rows (see recipes/experiments/context/paper.yaml)"
                )
            unknown = [m for m in paper["metrics"] if m not in METRICS]
            if unknown:
                raise ConfigError(f"{path}: paper.metrics {unknown} are not metric names ({', '.join(METRICS)})")
            width = len(paper["metrics"]) + 1
            if any(not isinstance(row, list) or len(row) != width for row in paper["rows"]):
                raise ConfigError(
                    f"{path}: every `paper.rows` entry is [corpus, one value per metric] ({width} items)"
                )
            merged["paper"] = paper
        limits = context.get("limits") or []
        if not isinstance(limits, list) or not all(isinstance(x, str) for x in limits):
            raise ConfigError(f"{path}: `limits` is a list of markdown paragraphs")
        merged["limits"] += limits
    return merged


def limits(data: dict, context: dict[str, Any] | None = None) -> str:
    """The limits of this run: the corpus size (measured) and the context file's own."""
    parts = [f"- {' '.join(text.split())}" for text in (context or {}).get("limits", [])]
    if data["experiment"]["num_docs"] < SMALL_CORPUS:
        parts.insert(0, _SIZE_LIMIT.format(num_docs=data["experiment"]["num_docs"]))
    return "\n".join(parts) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def _arrow(metric: str) -> str:
    return "↑" if METRICS[metric][0] == "higher" else "↓"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _total_time(data: dict, cpt: dict | None) -> str:
    parts = [data["generation_wall_time_s"], data["scoring_wall_time_s"]]
    if cpt and cpt.get("wall_time_s") is not None:
        parts.append(cpt["wall_time_s"])
    names = "generation + scoring" + (" + CPT" if len(parts) == 3 else "")
    again = " by this invocation" if _resumed(data["methods"]) else ""
    return f"- whole comparison: {sum(parts) / 60:.1f} min ({names}){again} on this machine"


def _resumed(methods: list[dict]) -> str:
    """How much of the corpora an earlier, interrupted invocation made (none: empty)."""
    kept = sum(run["documents"] - run.get("generated", run["documents"]) for run in methods)
    if not kept:
        return ""
    total = sum(run["documents"] for run in methods)
    return f" (this invocation; {kept} of the {total} documents were kept from earlier, interrupted runs)"


def _setup(data: dict, command: str) -> list[str]:
    exp = data["experiment"]
    methods = data["methods"]
    models = sorted({m for run in methods for m in run["models"].values()})
    hashes = sorted({run["prompt_hash"] for run in methods})
    real = data["real_text"]
    metrics = exp["metrics"]
    return [
        "## Setup",
        "",
        f"- command: `{command}`",
        f"- generator model(s), the same for every method: {', '.join(f'`{m}`' for m in models)}",
        f"- prompt-set hash: `{', '.join(hashes)}`",
        f"- domain: `{exp['domain'] if isinstance(exp['domain'], str) else exp['domain']['name']}`, "
        f"{exp['num_docs']} documents asked per method, seed {exp['seed']}",
        f"- real text: {real['description']}; documents: {real['counts']}",
        f"- embeddings: `{metrics['embedding_model']}`; Task2Vec probe `{metrics['task2vec_probe']}`"
        f" ({metrics['task2vec_num_batches']} batches of {metrics['task2vec_batch_size']})",
        f"- wall time: generation {data['generation_wall_time_s']} s{_resumed(methods)}, "
        f"scoring {data['scoring_wall_time_s']} s"
        + (
            "; the methods were generated concurrently on one shared model, so their wall times below overlap"
            if exp.get("parallel_methods")
            else ""
        ),
        "",
    ]


def _cost(data: dict) -> list[str]:
    header = [
        "corpus",
        "method",
        "seeds",
        "docs",
        "empty",
        "tokens",
        "calls/doc",
        "completion tokens/doc",
        "s/doc",
        "made by this run (wall s)",
        "fallbacks",
        "statuses",
    ]
    rows = []
    for run in data["methods"]:
        n = max(run["documents"], 1)
        statuses = ", ".join(f"{k}: {v}" for k, v in run["statuses"].items())
        per_doc = run.get("doc_wall_time_s") or run["wall_time_s"] / n  # older JSON: the run's wall / docs
        rows.append(
            [
                run["label"],
                run["method"],
                run["seeds_kind"],
                str(run["documents"]),
                str(run["empty_documents"]),
                f"{run['tokens']} ({run['tokenizer']})",
                f"{run['calls'] / n:.1f}",
                f"{run['completion_tokens'] / n:.0f}",
                f"{per_doc:.1f}",
                f"{run.get('generated', '–')} ({run['wall_time_s']:.0f})",
                str(run["fallbacks"]),
                statuses,
            ]
        )
    intro = (
        "Calls and completion tokens count every document's model calls, from its provenance; "
        "s/doc is the mean time one document took from its first call to its last (documents "
        'overlap: lanes, and methods generated together). "Made by this run" counts the documents '
        "this invocation generated, with its wall time; the others were kept from earlier, "
        "interrupted runs of the same command (same fingerprint)."
    )
    return ["## Generation cost", "", intro, "", *_table(header, rows), "", *_agency(data)]


def _agency(data: dict) -> list[str]:
    """Per conductor corpus: how much the conductor decided (generation/agency.py)."""
    runs = [run for run in data["methods"] if run.get("agency")]
    if not runs:
        return []
    header = [
        "corpus",
        "conductor turns",
        "scaffold turns (by reason)",
        "conductor-written instructions",
        "loops ended by",
    ]
    rows = []
    for run in runs:
        cells = table_cells(run["agency"])
        rows.append(
            [
                run["label"],
                cells["conductor_turns"],
                cells["scaffold_turns"],
                f"{cells['instructions']} expert calls ({cells['instruction_share']})",
                cells["final_by"],
            ]
        )
    intro = (
        "A conductor turn is one whose action the conductor chose and the scaffold kept; the "
        "scaffold decides a turn when the last turns are reserved for required experts, when a "
        "reply cannot be used after one re-ask (unparseable, or instructions that are empty, the "
        "default or the example's placeholder), on a repeat, or on a FINAL before the required "
        "experts ran. Expert calls include the fixed bookkeeping calls (summary, topic label)."
    )
    return ["## How much the conductor decided", "", intro, "", *_table(header, rows), ""]


def _metric_names(reports: dict) -> list[str]:
    return [m for m in METRICS if any(m in r["metrics"] for r in reports.values())]


def _diversity(reports: dict) -> list[str]:
    metrics = _metric_names(reports)
    header = ["corpus"] + [f"{m} {_arrow(m)}" for m in metrics]
    rows = []
    for name, report in reports.items():
        cells = [name + (" (real)" if report.get("is_reference") else "")]
        for m in metrics:
            entry = report["metrics"].get(m) or {}
            cell = _fmt(entry.get("value"))
            if entry.get("ci95"):
                cell += f" [{entry['ci95'][0]:.3f}, {entry['ci95'][1]:.3f}]"
            cells.append(cell)
        rows.append(cells)
    intro = (
        "Rows are corpora, columns are metrics; ↑ = higher is more diverse (for MAUVE: "
        "closer to the real reference), ↓ = lower is more diverse. Brackets hold 95% intervals: "
        "Task2Vec's over probe batches, homogenization's bootstrapped over documents, every other "
        "metric's by subsampling documents without replacement (metrics/intervals.py: a "
        "with-replacement bootstrap repeats documents, which every diversity metric reads as "
        "redundancy)."
    )
    return ["## Diversity (measured)", "", intro, "", *_table(header, rows), ""]


def _sizing(data: dict) -> list[str]:
    sizing = data.get("sizing")
    if not sizing:
        return []
    docs = ", ".join(f"{name} {n}" for name, n in sizing["documents"].items())
    uncut = sizing.get("uncut") or []
    return [
        f"Every document corpus and the real reference were cut to the smallest corpus's size, "
        f"**{sizing['tokens_per_corpus']} tokens** ({sizing['tokenizer']} count; the last document "
        f"cut at a word), before scoring, since compression ratio, n-gram diversity, Vendi and MAUVE "
        f"move with corpus length. Documents scored: {docs}."
        + (f" {', '.join(uncut)} (instruction + response pairs) is scored at its own size." if uncut else ""),
        "",
    ]


def _versus_metrics(reports: dict) -> tuple[list[str], list[str], list[str]]:
    """MetaSynth corpora, baselines, and the metrics they are compared on (MAUVE measures
    closeness to the real reference, not diversity)."""
    metasynth = [n for n in reports if n.startswith("metasynth")]
    baselines = [n for n in reports if n.startswith("template")]
    names = [m for m in _metric_names({n: reports[n] for n in metasynth + baselines}) if m != "mauve"]
    return metasynth, baselines, names


def verdicts(reports: dict) -> dict[tuple[str, str], dict[str, str]]:
    """(MetaSynth corpus, baseline) -> metric -> more | less | overlap | unknown (intervals)."""
    metasynth, baselines, names = _versus_metrics(reports)
    return {
        (ms, base): {
            m: _compare(
                reports[ms]["metrics"].get(m, {}), reports[base]["metrics"].get(m, {}), METRICS[m][0] == "higher"
            )
            for m in names
        }
        for ms in metasynth
        for base in baselines
    }


def versus(reports: dict) -> list[str]:
    """Each MetaSynth corpus against each baseline, per metric: apart or overlapping intervals."""
    _, _, names = _versus_metrics(reports)
    table = verdicts(reports)
    if not table:
        return []
    header = ["MetaSynth vs baseline", *[f"{m} {_arrow(m)}" for m in names]]
    rows, tally = [], {"more": 0, "less": 0, "overlap": 0, "unknown": 0}
    marks = {"more": "**more**", "less": "less", "overlap": "≈", "unknown": "?"}
    for (ms, base), by_metric in table.items():
        rows.append([f"{ms} vs {base}", *[marks[by_metric[m]] for m in names]])
        for verdict in by_metric.values():
            tally[verdict] += 1
    intro = (
        "**more** / less: MetaSynth's corpus is more / less diverse and the two 95% intervals do "
        "not overlap; ≈: they overlap (no difference this run can show). MAUVE is left out: it "
        "measures closeness to the real reference, not diversity."
    )
    summary = (
        f"Over {sum(tally.values())} comparisons: MetaSynth more diverse with intervals apart in "
        f"{tally['more']}, less diverse in {tally['less']}, overlapping in {tally['overlap']}"
        + (f", no interval in {tally['unknown']}" if tally["unknown"] else "")
        + "."
    )
    return ["## MetaSynth against each baseline", "", intro, "", *_table(header, rows), "", summary, ""]


def _names(metrics: list[str]) -> str:
    return ", ".join(metrics) if metrics else "none"


def reading(data: dict) -> list[str]:
    """The run in a few computed sentences: how often the conductor decided, and per MetaSynth
    corpus which baselines it beats on which metrics with intervals apart. Nothing here is
    written by hand, so it stays true when the JSON it is rendered from changes."""
    lines = []
    for run in data["methods"]:
        totals = run.get("agency")
        if not totals:
            continue
        cells = table_cells(totals)
        ended = totals.get("final_by", {})
        turns = totals["conductor_turns"] + totals["scaffold_turns"]
        lines.append(
            f"- **{run['label']}**: the conductor chose the action in {totals['conductor_turns']} of {turns} "
            f"turns ({cells['turn_share']}) and wrote the instructions of "
            f"{cells['instructions']} expert calls ({cells['instruction_share']}; the rest are "
            f"bookkeeping calls or the scaffold's); it ended {ended.get('conductor', 0)} of "
            f"{sum(ended.values())} documents itself ({cells['final_by']})."
        )
    table = verdicts(data["reports"])
    for ms in dict.fromkeys(name for name, _ in table):
        pairs = {base: by_metric for (name, base), by_metric in table.items() if name == ms}
        parts = []
        for base, by_metric in pairs.items():
            more = [m for m, v in by_metric.items() if v == "more"]
            less = [m for m, v in by_metric.items() if v == "less"]
            parts.append(f"{base}: more diverse on {_names(more)}; less on {_names(less)}")
        everywhere = [m for m in next(iter(pairs.values())) if all(v[m] == "more" for v in pairs.values())]
        lines.append(
            f"- **{ms}** against each baseline, intervals apart — "
            + "; ".join(f"vs {p}" for p in parts)
            + f". More diverse than every baseline on: {_names(everywhere)}."
        )
    if not lines:
        return []
    return ["## Reading", "", *lines, ""]


def _compare(a: dict, b: dict, higher: bool) -> str:
    ca, cb = a.get("ci95"), b.get("ci95")
    if a.get("value") is None or b.get("value") is None or not ca or not cb:
        return "unknown"
    if ca[0] > cb[1]:
        return "more" if higher else "less"
    if ca[1] < cb[0]:
        return "less" if higher else "more"
    return "overlap"


def _instruct(data: dict) -> list[str]:
    sample = data.get("instruct_sample") or []
    if not sample:
        return []
    lines = [
        "## MetaSynth-Instruct sample",
        "",
        f"{len(sample)} instructions of the `instruct` corpus with every version the question "
        "editor wrote (first to last) and the response; its statistics are in the tables above.",
        "",
    ]
    for item in sample:
        lines.append(f"**{item['id']}** (from `{item['source_id']}`, {item['evolutions']} evolution(s)):")
        lines.append("")
        for step, version in enumerate(item["evolution"]):
            lines.append(f"{step + 1}. {_one_line(version)}")
        lines += ["", f"Response: {_one_line(item['response'], 400)}", ""]
    return lines


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(str(text).split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _paper(paper: dict[str, Any] | None) -> list[str]:
    """The paper's table as the context file quotes it, under its source note."""
    if not paper:
        return []
    header = ["corpus (paper)", *(f"{m} {_arrow(m)}" for m in paper["metrics"])]
    rows = [[str(name), *(_fmt(float(v)) for v in values)] for name, *values in paper["rows"]]
    title = paper.get("title") or "The paper's values"
    return [f"## {title}", "", " ".join(str(paper["source"]).split()), "", *_table(header, rows), ""]


def observed_order(reports: dict) -> list[str]:
    """Per metric, synthetic corpora from most to least diverse; `=` joins equal values."""
    lines = []
    synthetic = {n: r for n, r in reports.items() if not r.get("is_reference")}
    for m in _metric_names(synthetic):
        scored = [
            (round(r["metrics"][m]["value"], 4), n)
            for n, r in synthetic.items()
            if r["metrics"].get(m, {}).get("value") is not None
        ]
        scored.sort(key=lambda item: item[0], reverse=METRICS[m][0] == "higher")
        text = scored[0][1] if scored else ""
        for (before, _), (value, name) in zip(scored, scored[1:], strict=False):
            text += (" = " if value == before else " > ") + name
        lines.append(f"- {m} {_arrow(m)}: {text}")
    return lines


def _ordering(reports: dict) -> list[str]:
    return [
        "## What the numbers say",
        "",
        "Most to least diverse corpus, per metric (values only; the intervals are in the table above "
        "and the comparison below):",
        "",
        *observed_order(reports),
        "",
    ]


def _plots(plots_dir: Path | None, results_path: Path) -> list[str]:
    if plots_dir is None:
        return []
    lines = ["## Plots", ""]
    for name, title in (("diversity_panels.png", "every metric"), ("embedding_map.png", "document embeddings (PCA)")):
        path = plots_dir / name
        if path.is_file():
            rel = os.path.relpath(path, results_path.parent)
            lines.append(f"![{title}]({rel})")
    return lines + [""]


def _portable(command: str) -> str:
    """The training command without this machine's interpreter path."""
    head, sep, rest = command.partition(" -m ")
    return ("python -m " + rest) if sep and head.rsplit("/", 1)[-1].startswith("python") else command


def _ppl(entry: dict) -> str:
    """`mean ± sd (n seeds)` for trained models, the value for the base model."""
    if "sd" in entry:
        return f"{entry['mean']:.2f} ± {entry['sd']:.2f}"
    return f"{entry['perplexity']:.2f}"


def _cpt_reading(runs: dict) -> list[str]:
    """What the perplexity table says, computed: which trained model is lowest, and whether the
    gap exceeds the seeds' spread (mean ± 2 sd apart)."""
    trained = {n: r["perplexity"] for n, r in runs.items() if n != "base"}
    base = runs["base"]["perplexity"]
    lines = []
    for s in sorted(base):
        scored = sorted((p[s]["perplexity"], p[s].get("sd", 0.0), n) for n, p in trained.items() if s in p)
        if len(scored) < 2:
            continue
        (best, best_sd, best_name), (runner_up, up_sd, up_name) = scored[0], scored[1]
        apart = best + 2 * best_sd < runner_up - 2 * up_sd
        below = [ppl < base[s]["perplexity"] for ppl, _, _ in scored]
        verdict = "all lower" if all(below) else "mixed" if any(below) else "all higher"
        lines.append(
            f"- {s} text: lowest mean perplexity after training on **{best_name}** ({best:.2f}, next "
            f"{up_name} {runner_up:.2f}): {'apart by more than two sd' if apart else 'within the seeds spread'}; "
            f"against the base model ({base[s]['perplexity']:.2f}) the trained models are {verdict}."
        )
    return lines


def _cpt(cpt: dict) -> list[str]:
    runs = cpt["runs"]
    sets = sorted({s for run in runs.values() for s in run["perplexity"]})
    seeds = sorted({seed for run in runs.values() for seed in run.get("seeds", {})})
    header = ["model", "train docs", "train loss", "train s / run"] + [f"perplexity {s} ↓" for s in sets]
    base = runs["base"]["perplexity"]
    rows = []
    for name, run in runs.items():
        seconds, loss = run.get("train_seconds"), run.get("train_loss")
        loss_text = f"{loss['mean']:.3f} ± {loss['sd']:.3f}" if isinstance(loss, dict) else _fmt(loss)
        cells = [
            name if name == "base" else f"trained on {name}",
            str(run.get("documents", "-")),
            loss_text,
            "-" if seconds is None else f"{seconds:.0f}",
        ]
        for s in sets:
            entry = run["perplexity"][s]
            delta = "" if name == "base" else f" ({100 * (entry['perplexity'] / base[s]['perplexity'] - 1):+.1f}%)"
            cells.append(_ppl(entry) + delta)
        rows.append(cells)
    held = cpt.get("heldout", {})
    commands = [
        run["seeds"][k]["command"] for n, run in runs.items() if n != "base" for k in sorted(run.get("seeds", {}))[:1]
    ]
    return [
        "## Tiny continual pre-training effect",
        "",
        f"Base `{cpt.get('base_reference', '')}` (`{Path(cpt['base_model']).name}`); each corpus cut to **{cpt['tokens_per_corpus']} tokens** "
        f"(the model's tokenizer) and trained once per seed ({', '.join(seeds) or '-'}): mean ± sd over seeds. "
        f"Held-out real text: {held}. Perplexity is token-weighted; the change of the mean against the base "
        "model is in brackets.",
        "",
        *_table(header, rows),
        "",
        *_cpt_reading(runs),
        "",
        "Training commands (seed 0; the others differ only in `--seed`):",
        "",
        *[f"- `{_portable(c)}`" for c in commands],
        "",
        "At this size (a few thousand tokens, tens of steps) the runs show that the pipeline "
        "works end to end and how far a small corpus moves the model; they are not evidence "
        "about the paper's 25M-token result.",
        "",
    ]


def render(
    data: dict,
    *,
    command: str,
    results_path: Path,
    plots_dir: Path | None = None,
    cpt: dict | None = None,
    scale_note: str = "",
    context: dict[str, Any] | None = None,
) -> str:
    """The whole results file as markdown; `context` is `load_context(config.context)`."""
    name = data["experiment"]["name"]
    lines = [
        f"# Results: MetaSynth vs template baselines ({name})",
        "",
        "Written by `metasynth compare`; every number below was measured by the command shown.",
        "",
        *([f"> {scale_note}", ""] if scale_note else []),
        *_setup(data, command)[:-1],
        _total_time(data, cpt),
        "",
        *_cost(data),
        *_sizing(data),
        *_diversity(data["reports"]),
        *versus(data["reports"]),
        *reading(data),
        *_ordering(data["reports"]),
        *_instruct(data),
        *_paper((context or {}).get("paper")),
        *_plots(plots_dir, results_path),
        *(_cpt(cpt) if cpt else []),
        "## Limits of this run",
        "",
        limits(data, context),
    ]
    return "\n".join(lines).rstrip() + "\n"


def summary_lines(data: dict, cpt: dict | None) -> str:
    """A short plain-text summary for the terminal: the diversity table, CPT perplexities."""
    from metasynth_hf.metrics.report import format_table

    out = [format_table(data["reports"])]
    if cpt:
        for name, run in cpt["runs"].items():
            ppl = {k: round(v["perplexity"], 2) for k, v in run["perplexity"].items()}
            out.append(f"perplexity {name}: {ppl}")
    return "\n".join(out)


def write_results(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
