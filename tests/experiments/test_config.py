"""Every shipped experiment config parses, and each method gets the right RunConfig."""

from __future__ import annotations

from pathlib import Path

import pytest

from metasynth_hf.config_io import load_config
from metasynth_hf.errors import ConfigError
from metasynth_hf.experiments.config import METHOD_SPECS, ExperimentConfig

CONFIGS = sorted(Path("recipes/experiments").glob("*.yaml"))


def test_the_three_configs_ship():
    assert {p.stem for p in CONFIGS} >= {"smoke", "small", "tgi"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_parses_and_builds_a_run_per_method(path):
    config = load_config(ExperimentConfig, path)
    assert config.methods == tuple(m for m in METHOD_SPECS if m != "instruct")  # every method, every config
    models = set()
    for label in config.methods:
        run = config.run_config(label, "seeds.jsonl")
        method, kind = METHOD_SPECS[label]
        assert (run.method, run.seeds.kind, run.num_docs) == (method, kind, config.num_docs)
        assert run.output_dir == config.output_dir / "corpora" / label
        assert run.seeds.corpus == ("seeds.jsonl" if kind == "topic_aware" else None)
        models.add((run.conductor, run.expert_model))
    assert len(models) == 1  # the same generator model(s) for every method
    if config.instruct_from:  # Instruct evolves the documents of one of the corpora above
        run = config.run_config("instruct", None)
        assert run.method == "instruct" and run.instruct.source == str(config.corpus_dir(config.instruct_from))
        assert run.num_docs == (config.instruct_docs or config.num_docs)
        assert (run.conductor, run.expert_model) in models


def test_instruct_needs_its_source_among_the_methods():
    with pytest.raises(ConfigError, match="instruct_from"):
        load_config(
            ExperimentConfig,
            None,
            {
                "name": "x",
                "reference": {"source": "real.jsonl"},
                "num_docs": 4,
                "methods": ["template"],
                "instruct_from": "metasynth_keyword",
            },
        )


def test_tgi_config_is_the_same_schema_on_endpoints():
    config = load_config(ExperimentConfig, "recipes/experiments/tgi.yaml")
    run = config.run_config("metasynth_keyword", None)
    assert run.conductor.backend == "endpoints" and run.expert_model.backend == "endpoints"


@pytest.mark.parametrize(
    ("run", "field"),
    [
        ({"method": "template"}, "method"),
        ({"num_docs": 3}, "num_docs"),
        ({"seeds": {"kind": "keyword"}}, "seeds.kind"),
    ],
)
def test_fields_owned_by_the_experiment_are_refused_in_run(run, field):
    with pytest.raises(ConfigError, match=field.split(".")[0]):
        load_config(
            ExperimentConfig, None, {"name": "x", "reference": {"source": "real.jsonl"}, "num_docs": 9, "run": run}
        )


def test_unknown_keys_are_refused_with_their_name():
    with pytest.raises(ConfigError, match="num_doc: unknown field"):
        load_config(
            ExperimentConfig, None, {"name": "x", "reference": {"source": "real.jsonl"}, "num_docs": 9, "num_doc": 3}
        )


def test_a_bad_run_field_names_the_method():
    config = load_config(
        ExperimentConfig,
        None,
        {"name": "x", "reference": {"source": "real.jsonl"}, "num_docs": 9, "run": {"lanes": 0}},
    )
    with pytest.raises(ConfigError, match=r"(?s)method template.*lanes"):
        config.run_config("template", None)


def test_threads_reach_the_metrics_config():
    config = load_config(
        ExperimentConfig, None, {"name": "x", "reference": {"source": "real.jsonl"}, "num_docs": 9, "threads": 1}
    )
    dumped = config.metrics_config().model_dump()
    assert 1 in [dumped.get("cpu_threads"), dumped.get("torch_threads")]


def test_lanes_must_leave_earlier_documents_visible():
    with pytest.raises(ConfigError, match=r"run.lanes \(4\) must be below num_docs \(3\)"):
        load_config(ExperimentConfig, None, {"name": "x", "reference": {"source": "real.jsonl"}, "num_docs": 3})
    config = load_config(
        ExperimentConfig,
        None,
        {"name": "x", "reference": {"source": "real.jsonl"}, "num_docs": 3, "methods": ["template"]},
    )
    assert config.methods == ("template",)  # unconditioned methods may fill every lane
