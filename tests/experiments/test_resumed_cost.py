"""A comparison resumed over finished corpora reports what the corpora cost, not what it paid.

Evidence runs on a CPU outlast a session and are resumed; the run summary counts only the
documents its own invocation made, so the cost table must come from the records themselves.
"""

from __future__ import annotations

import asyncio

import pytest

from metasynth_hf.config_io import load_config
from metasynth_hf.experiments import runner
from metasynth_hf.experiments.config import ExperimentConfig
from metasynth_hf.experiments.reference import prepare_real_text
from metasynth_hf.experiments.results import render

pytestmark = pytest.mark.slow

COST = ("documents", "calls", "completion_tokens", "doc_wall_time_s", "models", "tokens", "statuses", "agency")


def test_a_rerun_makes_nothing_and_reports_the_same_cost(tmp_path):
    overrides = {"output_dir": tmp_path, "methods": ["template", "metasynth_keyword"]}  # + instruct from it
    config = load_config(ExperimentConfig, "recipes/experiments/smoke.yaml", overrides)
    real = prepare_real_text(config.reference, tmp_path / "real", config.seed)
    first = {run.label: run.to_dict() for run in asyncio.run(runner.generate_all(config, real))}
    again = {run.label: run.to_dict() for run in asyncio.run(runner.generate_all(config, real))}
    for label, run in first.items():
        assert run["generated"] == run["documents"] == 2 and run["calls"] >= 2 and run["models"], label
        assert again[label]["generated"] == 0, label
        assert {k: again[label][k] for k in COST} == {k: run[k] for k in COST}, label
    assert first["metasynth_keyword"]["calls"] > first["template"]["calls"]

    metrics = {"embedding_model": "-", "task2vec_probe": "-", "task2vec_num_batches": 0, "task2vec_batch_size": 0}
    data = {
        "experiment": {"name": "rerun", "domain": "python_docs", "num_docs": 2, "seed": 0, "metrics": metrics},
        "methods": list(again.values()),
        "reports": {},
        "real_text": {"description": "stand-in", "counts": {}},
        "generation_wall_time_s": 1.0,
        "scoring_wall_time_s": 1.0,
    }
    text = render(data, command="metasynth compare", results_path=tmp_path / "results.md")
    assert "(this invocation; 6 of the 6 documents were kept from earlier, interrupted runs)" in text
    template = next(line for line in text.splitlines() if line.startswith("| template |"))
    assert f"| {again['template']['doc_wall_time_s']:.1f} | 0 (" in template
