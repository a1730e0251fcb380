"""The markdown results: rows = corpora, columns = metrics with arrows, the paper's table, CPT."""

from __future__ import annotations

import json
from pathlib import Path

from metasynth_hf.card import card_section
from metasynth_hf.experiments.cpt import equal_token_corpora
from metasynth_hf.experiments.results import load_context, observed_order, render

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = (ROOT / "recipes/experiments/context/paper.yaml", ROOT / "recipes/experiments/context/limits_embedded.yaml")


def _report(values: dict, reference: bool = False) -> dict:
    metrics = {m: {"value": v} for m, v in values.items()}
    metrics["task2vec_diversity"]["ci95"] = [values["task2vec_diversity"] - 0.01, 0.5]
    return {"metrics": metrics, "num_documents": 3, **({"is_reference": True} if reference else {})}


def _data() -> dict:
    reports = {
        "metasynth_keyword": _report(
            {"compression_ratio": 2.5, "ngram_diversity_1": 0.30, "task2vec_diversity": 0.20}
        ),
        "template": _report({"compression_ratio": 3.5, "ngram_diversity_1": 0.40, "task2vec_diversity": 0.10}),
        "real_reference": _report(
            {"compression_ratio": 2.0, "ngram_diversity_1": 0.5, "task2vec_diversity": 0.3},
            reference=True,
        ),
    }
    run = {
        "label": "template",
        "method": "template",
        "seeds_kind": "keyword",
        "documents": 3,
        "empty_documents": 0,
        "tokens": 90,
        "tokenizer": "approx",
        "calls": 3,
        "cache_hits": 0,
        "completion_tokens": 60,
        "wall_time_s": 6.0,
        "fallbacks": 0,
        "statuses": {"final": 3},
        "models": {"writer": "SmolLM2"},
        "prompt_hash": "abc123",
        "fingerprint": "f",
    }
    return {
        "experiment": {
            "name": "unit",
            "domain": "finance",
            "num_docs": 3,
            "seed": 0,
            "metrics": {
                "embedding_model": "minilm",
                "task2vec_probe": "smollm2",
                "task2vec_num_batches": 2,
                "task2vec_batch_size": 2,
            },
        },
        "methods": [run],
        "reports": reports,
        "real_text": {"description": "stdlib docs", "counts": {"reference": 6}},
        "generation_wall_time_s": 6.0,
        "scoring_wall_time_s": 1.0,
    }


def test_table_rows_are_corpora_and_columns_carry_arrows(tmp_path: Path):
    context = load_context(CONTEXT)
    text = render(
        _data(),
        command="metasynth compare --config x.yaml",
        results_path=tmp_path / "results.md",
        scale_note="tiny",
        context=context,
    )
    header = next(line for line in text.splitlines() if line.startswith("| corpus | compression"))
    assert "compression_ratio ↓" in header and "ngram_diversity_1 ↑" in header
    assert "| real_reference (real) | 2.0000 |" in text
    assert "| metasynth_keyword | 2.5000 | 0.3000 | 0.2000 [0.190, 0.500] |" in text
    assert "`metasynth compare --config x.yaml`" in text and "`abc123`" in text
    assert "> tiny" in text and "| template | template | keyword | 3 | 0 | 90 (approx) | 1.0 |" in text
    for name, *_ in context["paper"]["rows"]:
        assert f"| {name} |" in text
    assert "secondary source" in text  # the table comes with its source note
    bare = render(_data(), command="c", results_path=tmp_path / "results.md")
    assert "corpus (paper)" not in bare and "Generator size" not in bare  # no context file: none of it
    assert "## Tiny continual pre-training effect" not in text


def test_observed_order_is_computed_per_direction():
    order = observed_order(_data()["reports"])
    assert "- compression_ratio ↓: metasynth_keyword > template" in order
    assert "- ngram_diversity_1 ↑: template > metasynth_keyword" in order


def test_metasynth_against_each_baseline_reads_the_intervals():
    from metasynth_hf.experiments.results import versus

    reports = _data()["reports"]
    reports["metasynth_keyword"]["metrics"]["compression_ratio"]["ci95"] = [2.4, 2.6]
    reports["template"]["metrics"]["compression_ratio"]["ci95"] = [3.3, 3.7]  # apart: MetaSynth more diverse
    reports["metasynth_keyword"]["metrics"]["ngram_diversity_1"]["ci95"] = [0.25, 0.38]
    reports["template"]["metrics"]["ngram_diversity_1"]["ci95"] = [0.35, 0.45]  # overlap
    reports["template"]["metrics"]["task2vec_diversity"]["ci95"] = [0.09, 0.11]  # apart: more
    text = "\n".join(versus(reports))
    assert "| metasynth_keyword vs template | **more** | ≈ | **more** |" in text
    assert (
        "Over 3 comparisons: MetaSynth more diverse with intervals apart in 2, less diverse in 0, overlapping in 1."
        in text
    )


def test_cpt_section_shows_mean_and_sd_over_seeds_against_base(tmp_path: Path):
    ppl = lambda d, g: {"domain": {"perplexity": d}, "general": {"perplexity": g}}  # noqa: E731

    def spread(mean, sd):
        return {"perplexity": mean, "mean": mean, "sd": sd, "values": [mean - sd, mean, mean + sd]}

    def trained(docs, cmd, domain, general):
        seeds = {str(k): {"command": cmd.replace(" a", f" a --seed {k}")} for k in range(3)}
        return {
            "documents": docs,
            "train_loss": {"mean": 2.5, "sd": 0.1},
            "train_seconds": 9.0,
            "seeds": seeds,
            "command": cmd,
            "perplexity": {"domain": domain, "general": general},
        }

    cpt = {
        "base_model": "/home/x/.cache/ckpt-1",
        "tokens_per_corpus": 500,
        "heldout": {"domain": 3},
        "runs": {
            "base": {"perplexity": ppl(20.0, 10.0)},
            "metasynth_keyword": trained(
                3, "/opt/venv/bin/python3 -m metasynth_hf.train a", spread(18.0, 0.2), spread(11.0, 0.1)
            ),
            "template": trained(2, "python -m metasynth_hf.train b", spread(19.0, 0.2), spread(11.2, 0.3)),
        },
    }
    text = render(_data(), command="c", results_path=tmp_path / "r.md", cpt=cpt)
    assert (
        "| trained on metasynth_keyword | 3 | 2.500 ± 0.100 | 9 | 18.00 ± 0.20 (-10.0%) | 11.00 ± 0.10 (+10.0%) |"
        in text
    )
    assert "**500 tokens**" in text and "`python -m metasynth_hf.train a --seed 0`" in text
    assert "/opt/venv" not in text and "/home/x" not in text and "(`ckpt-1`)" in text
    assert "once per seed (0, 1, 2): mean ± sd over seeds" in text
    assert (
        "- domain text: lowest mean perplexity after training on **metasynth_keyword** (18.00, next template "
        "19.00): apart by more than two sd; against the base model (20.00) the trained models are all lower."
    ) in text
    assert "(11.00, next template 11.20): within the seeds spread" in text and "are all higher" in text
    assert "- whole comparison: 0.1 min (generation + scoring) on this machine" in text
    timed = render(_data(), command="c", results_path=tmp_path / "r.md", cpt={**cpt, "wall_time_s": 53.0})
    assert "- whole comparison: 1.0 min (generation + scoring + CPT) on this machine" in timed


class _WordTokenizer:
    """Whitespace 'tokenizer' with the two calls equal_token_corpora makes."""

    def __call__(self, text, add_special_tokens=True):
        return {"input_ids": text.split()}

    def decode(self, ids):
        return " ".join(ids)


def test_equal_token_corpora_cut_the_longer_corpus():
    corpora = {"a": ["w " * 5, "w " * 5, "w " * 5], "b": ["x " * 4, "y " * 8]}
    cut, budget = equal_token_corpora(corpora, _WordTokenizer())
    assert budget == 12
    assert [len(t.split()) for t in cut["a"]] == [5, 5, 2]
    assert [len(t.split()) for t in cut["b"]] == [4, 8]


def test_card_section_nests_under_the_card_headings(tmp_path: Path):
    section = card_section(render(_data(), command="c", results_path=tmp_path / "r.md"))
    assert section.startswith("## Results: MetaSynth vs template baselines (unit)")
    assert "\n### Diversity (measured)\n" in section


def test_equal_values_are_not_ranked():
    data = _data()
    data["reports"]["template"]["metrics"]["compression_ratio"]["value"] = 2.5
    assert "- compression_ratio ↓: metasynth_keyword = template" in observed_order(data["reports"])


def test_only_report_rewrites_the_markdown_from_the_json(tmp_path: Path):
    from metasynth_hf.cli import main

    data = {**_data(), "command": "metasynth compare --config recipes/experiments/smoke.yaml"}
    (tmp_path / "comparison.json").write_text(json.dumps(data))
    rc = main(
        [
            "compare",
            "--config",
            "recipes/experiments/smoke.yaml",
            "--out",
            str(tmp_path),
            "--results",
            str(tmp_path / "r.md"),
            "--only",
            "report",
            "--no-plots",
        ]
    )
    text = (tmp_path / "r.md").read_text()
    assert rc == 0 and "`metasynth compare --config recipes/experiments/smoke.yaml`" in text
    assert "--only report" not in text and "| metasynth_keyword | 2.5000 |" in text


def test_limits_are_the_measured_size_and_the_context_files():
    from metasynth_hf.experiments.results import limits

    small = _data()
    text = limits(small, load_context(CONTEXT))
    assert "**Corpus size.** 3 documents per method" in text
    assert "**Generator size.**" in text and "**Real text.**" in text and "TGI endpoints" in text
    large = _data()
    large["experiment"].update(num_docs=2000)
    text = limits(large, load_context(CONTEXT[:1]))
    assert text.strip() == ""  # a large run with only the paper's table: nothing to add


def test_a_context_file_with_a_malformed_table_says_what_is_wrong(tmp_path):
    import pytest

    from metasynth_hf.errors import ConfigError

    bad = tmp_path / "paper.yaml"
    bad.write_text("paper: {source: s, metrics: [compression_ratio], rows: [[a, 1.0, 2.0]]}\n")
    with pytest.raises(ConfigError, match="one value per metric"):
        load_context([bad])


def test_reading_says_how_often_the_conductor_decided_and_where_metasynth_wins():
    from metasynth_hf.experiments.results import reading

    data = _data()
    reports = data["reports"]
    reports["metasynth_keyword"]["metrics"]["compression_ratio"]["ci95"] = [2.4, 2.6]
    reports["template"]["metrics"]["compression_ratio"]["ci95"] = [3.3, 3.7]  # apart: MetaSynth more diverse
    reports["metasynth_keyword"]["metrics"]["ngram_diversity_1"]["ci95"] = [0.25, 0.28]
    reports["template"]["metrics"]["ngram_diversity_1"]["ci95"] = [0.35, 0.45]  # apart: less diverse
    reports["template"]["metrics"]["task2vec_diversity"]["ci95"] = [0.15, 0.21]  # overlap
    from metasynth_hf.generation.agency import Agency, AgencyTotals

    totals = AgencyTotals()  # three documents' ledgers, as the engine writes them
    for turns, reasons, instructions, calls, ended in [
        (3, {"repeat": 2}, 3, 7, "conductor"),
        (2, {"repeat": 2, "reserved": 1}, 1, 6, "max_turns"),
        (1, {"reserved": 4}, 1, 7, "max_turns"),
    ]:
        ledger = Agency(conductor_turns=turns, conductor_instructions=instructions, expert_calls=calls, final_by=ended)
        for reason, n in reasons.items():
            for _ in range(n):
                ledger.scaffold(reason)
        totals.add(ledger.to_dict())
    agency = totals.to_dict()
    data["methods"].append(
        {**data["methods"][0], "label": "metasynth_keyword", "method": "metasynth", "agency": agency}
    )
    text = "\n".join(reading(data))
    assert (
        "- **metasynth_keyword**: the conductor chose the action in 6 of 15 turns (40.0%) and wrote the "
        "instructions of 5 of 20 expert calls (25.0%; the rest are bookkeeping calls or the scaffold's); "
        "it ended 1 of 3 documents itself (conductor 1, max_turns 2)." in text
    )
    assert (
        "- **metasynth_keyword** against each baseline, intervals apart — vs template: more diverse on "
        "compression_ratio; less on ngram_diversity_1. More diverse than every baseline on: compression_ratio." in text
    )
    # a template-only comparison has nothing to read
    assert reading({"methods": data["methods"][:1], "reports": {"template": reports["template"]}}) == []
