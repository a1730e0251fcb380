"""The whole suite on real models: directions, report shape, plots, embedding cache, evaluate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from metasynth_hf.metrics import measurement_path
from metasynth_hf.metrics.config import METRICS, CorpusError, MetricsConfig
from metasynth_hf.metrics.corpus import fingerprint
from metasynth_hf.metrics.embeddings import cache_key, embed_corpus
from metasynth_hf.metrics.plots import write_plots
from metasynth_hf.metrics.report import compare_corpora, diversity_report, format_table


@pytest.fixture(scope="module")
def config(tiny_config):
    return tiny_config.model_copy(update={"task2vec_num_batches": 2})


@pytest.fixture(scope="module")
def compared(varied, template, reference_docs, config, probe):
    embeddings: dict = {}
    reports = compare_corpora(
        {"metasynth": varied, "template": template},
        reference=reference_docs,
        reference_name="real",
        config=config,
        embeddings_out=embeddings,
        probe=probe,
    )
    return reports, embeddings


@pytest.mark.slow
def test_template_is_less_diverse_on_every_metric(compared):
    reports, _ = compared
    varied, template = reports["metasynth"]["metrics"], reports["template"]["metrics"]
    assert set(varied) == set(METRICS)  # every metric was computed, MAUVE included
    for name, entry in varied.items():
        a, b = entry["value"], template[name]["value"]
        if entry["direction"] == "higher":
            assert a > b, f"{name}: varied {a} should exceed template {b}"
        else:
            assert a < b, f"{name}: varied {a} should be below template {b}"


@pytest.mark.slow
def test_report_is_json_with_directions_and_sampling_facts(compared, tmp_path):
    reports, _ = compared
    text = json.dumps(reports)
    again = json.loads(text)
    assert again["real"]["is_reference"] and "mauve" not in again["real"]["metrics"]
    entry = again["metasynth"]["metrics"]["task2vec_diversity"]
    assert {"value", "direction", "ci95", "sample_size", "seed"} <= set(entry)
    assert again["metasynth"]["metrics"]["mauve"]["sample_size"]["reference"] == 40
    assert again["metasynth"]["metrics"]["compression_ratio"]["direction"] == "lower"
    assert again["metasynth"]["metrics"]["compression_ratio"]["reference_value"] > 1
    table = format_table(reports)
    assert "metasynth" in table and "task2vec_diversity ↑" in table


@pytest.mark.slow
def test_plots_are_written(compared, tmp_path):
    reports, embeddings = compared
    assert set(embeddings) == {"metasynth", "template", "real"}
    paths = write_plots(reports, tmp_path, embeddings=embeddings)
    names = {p.name for p in paths}
    assert {"metric_mauve.png", "diversity_panels.png", "embedding_map.png"} <= names
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 2000


def test_embeddings_are_cached_by_fingerprint_and_model(varied, config, caplog):
    first = embed_corpus(varied[:5], config)
    path = f"{config.cache_dir}/{cache_key(fingerprint(varied[:5]), config)}.npy"
    assert np.load(path).shape == first.shape
    with open(path, "wb") as handle:
        handle.write(b"garbage")
    with caplog.at_level("WARNING"):
        again = embed_corpus(varied[:5], config)
    assert "unreadable" in caplog.text and np.allclose(first, again, atol=1e-6)
    other = config.model_copy(update={"embedding_max_seq_length": 32})
    assert cache_key("f", other) != cache_key("f", config)


def test_embedding_sample_is_stated(varied, config):
    sampled = config.model_copy(
        update={"metrics": ("remote_clique", "vendi_score"), "embedding_sample": 10, "seed": 3}
    )
    report = diversity_report(varied, config=sampled)
    for name in ("remote_clique", "vendi_score"):
        assert report["metrics"][name]["sample_size"] == 10
        assert report["metrics"][name]["seed"] == 3
    assert report["num_documents"] == 40


def test_clear_errors_for_empty_and_single_document(config):
    with pytest.raises(CorpusError, match="empty"):
        diversity_report([], config=config)
    with pytest.raises(CorpusError, match="at least 2"):
        diversity_report(["just one document here"], config=config)
    with pytest.raises(CorpusError, match="one string"):
        diversity_report("a string, not a list", config=config)
    with pytest.raises(ValueError, match="unknown metrics"):
        MetricsConfig(metrics=("perplexity",))


def test_evaluate_module_gives_the_same_numbers(varied, config):
    import evaluate

    wanted = ("compression_ratio", "ngram_diversity", "self_repetition", "vendi_score")
    fields = {"metrics": list(wanted), "cache_dir": config.cache_dir}
    module = evaluate.load(str(measurement_path()))
    out = module.compute(data=varied[:20], **fields)
    report = diversity_report(varied[:20], config=MetricsConfig(metrics=wanted, cache_dir=config.cache_dir))
    for name in (
        "compression_ratio",
        "ngram_diversity",
        "ngram_diversity_1",
        "self_repetition",
        "vendi_score",
    ):
        assert out[name] == pytest.approx(report["metrics"][name]["value"], rel=1e-9)
    assert out["compression_ratio_reference"] == report["metrics"]["compression_ratio"]["reference_value"]
