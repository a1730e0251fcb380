"""The smoke version of `metasynth compare` end to end on the embedded model (both parts).

2 tiny documents per method, every metric on small samples, 2 training steps per CPT corpus:
the numbers mean nothing, the test keeps the command from rotting.
"""

from __future__ import annotations

import json
import math

import pytest

from metasynth_hf.cli import main
from metasynth_hf.experiments.config import METHOD_SPECS
from metasynth_hf.metrics.config import ALL_GROUPS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    import torch

    out = tmp_path_factory.mktemp("compare")
    threads = torch.get_num_threads()
    try:
        rc = main(
            [
                "compare",
                "--config",
                "recipes/experiments/smoke.yaml",
                "--out",
                str(out),
                "--results",
                str(out / "results.md"),
            ]
        )
    finally:
        torch.set_num_threads(threads)  # the command sets 1 thread (smoke.yaml: threads: 1)
    return rc, out


def test_every_method_made_the_same_number_of_documents_on_one_model(smoke):
    rc, out = smoke
    assert rc == 0
    data = json.loads((out / "comparison.json").read_text())
    runs = {run["label"]: run for run in data["methods"]}
    assert list(runs) == list(METHOD_SPECS)
    assert {run["documents"] for label, run in runs.items() if label != "instruct"} == {2}
    assert runs["instruct"]["documents"] == 2 and runs["instruct"]["agency"]["documents"] == 2
    assert len({m for run in runs.values() for m in run["models"].values()}) == 1
    assert len({run["prompt_hash"] for run in runs.values()}) == 1
    assert all(run["calls"] >= 2 and run["tokens"] > 0 for run in runs.values())
    assert runs["metasynth_keyword"]["calls"] > runs["template"]["calls"]  # the scaffold ran


def test_every_metric_for_every_corpus_and_mauve_against_real_text(smoke):
    _, out = smoke
    reports = json.loads((out / "comparison.json").read_text())["reports"]
    assert set(reports) == {*METHOD_SPECS, "real_reference"}
    for name, report in reports.items():
        expected = set(ALL_GROUPS) - ({"mauve"} if name == "real_reference" else set())
        assert expected <= set(report["metrics"]), name
        assert all(math.isfinite(e["value"]) for e in report["metrics"].values()), name


def test_results_markdown_holds_both_parts(smoke):
    _, out = smoke
    text = (out / "results.md").read_text()
    assert "metasynth compare --config recipes/experiments/smoke.yaml" in text
    for label in METHOD_SPECS:
        assert f"| {label} |" in text
    assert "| real_reference (real) |" in text and "## The paper's values" in text
    assert "compression_ratio ↓" in text and "vendi_score ↑" in text
    assert "![every metric](results/smoke/diversity_panels.png)" in text
    assert (out / "results" / "smoke" / "embedding_map.png").is_file()
    cpt = json.loads((out / "cpt.json").read_text())
    assert set(cpt["runs"]) == {"base", "metasynth_keyword", "template"}
    for run in cpt["runs"].values():
        for scored in run["perplexity"].values():
            assert math.isfinite(scored["perplexity"]) and scored["tokens"] > 0
    assert "| trained on template |" in text and "perplexity domain ↓" in text
    assert set(cpt["runs"]["template"]["seeds"]) == {"0", "1"}  # one training run per seed
    assert "## How much the conductor decided" in text and "## MetaSynth-Instruct sample" in text


def test_the_raw_measurements_re_render_the_results(smoke, capsys):
    _, out = smoke
    raw = out / "results" / "smoke"
    assert (raw / "comparison.json").is_file() and (raw / "cpt.json").is_file()
    assert (raw / "summaries" / "metasynth_keyword-summary-00000-of-00001.json").is_file()
    before = (out / "results.md").read_text()
    elsewhere = out / "elsewhere"  # no corpora, no comparison.json there: only the committed files
    assert (
        main(
            [
                "compare",
                "--config",
                "recipes/experiments/smoke.yaml",
                "--out",
                str(elsewhere),
                "--results",
                str(out / "results.md"),
                "--only",
                "report",
            ]
        )
        == 0
    )
    assert (out / "results.md").read_text() == before
