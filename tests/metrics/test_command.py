"""`metasynth stats` end to end on parquet and jsonl corpora written here."""

from __future__ import annotations

import json

import datasets
import pytest

from metasynth_hf.cli import main
from metasynth_hf.corpus.load import load_corpus
from metasynth_hf.errors import ConfigError


@pytest.fixture()
def corpora(tmp_path, varied, template, reference_docs):
    (tmp_path / "metasynth").mkdir()
    datasets.Dataset.from_dict({"text": varied}).to_parquet(str(tmp_path / "metasynth" / "part-0.parquet"))
    datasets.Dataset.from_dict({"text": template}).to_json(str(tmp_path / "template.jsonl"))
    datasets.Dataset.from_dict({"body": reference_docs}).to_parquet(str(tmp_path / "real.parquet"))
    return tmp_path


@pytest.mark.slow
def test_stats_writes_json_table_and_plots(corpora, tmp_path, capsys, cache_dir):
    out = tmp_path / "stats"
    code = main(
        [
            "stats",
            str(corpora / "metasynth"),
            "--compare",
            str(corpora / "template.jsonl"),
            "--metrics",
            "compression_ratio,ngram_diversity,remote_clique,vendi_score",
            "--set",
            f"cache_dir={cache_dir}",
            "--set",
            "cpu_threads=1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "compression_ratio ↓" in printed and "metasynth" in printed and "template" in printed
    reports = json.loads((out / "diversity.json").read_text())
    assert set(reports) == {"metasynth", "template"}
    # the 40 varied documents are cut to the template corpus's tokens before scoring
    assert reports["metasynth"]["sizing"]["corpus_documents"] == 40 > reports["metasynth"]["num_documents"]
    assert reports["metasynth"]["num_tokens"] == reports["template"]["num_tokens"]
    assert (
        reports["metasynth"]["metrics"]["ngram_diversity_1"]["value"]
        > reports["template"]["metrics"]["ngram_diversity_1"]["value"]
    )
    assert (out / "metric_vendi_score.png").is_file() and (out / "embedding_map.png").is_file()


def test_text_column_and_reference(corpora, tmp_path):
    out = tmp_path / "stats"
    code = main(
        [
            "stats",
            str(corpora / "real.parquet"),
            "--text-column",
            "body",
            "--metrics",
            "compression_ratio",
            "--no-plots",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "real" in json.loads((out / "diversity.json").read_text())


def test_bad_inputs_fail_with_the_fix(corpora, tmp_path, capsys):
    with pytest.raises(ConfigError, match="--text-column"):
        load_corpus(str(corpora / "real.parquet"))
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    assert main(["stats", str(empty), "--out", str(tmp_path / "o")]) == 1
    assert "no .parquet, .jsonl, .json, .arrow or .csv corpus files" in capsys.readouterr().err
    assert main(["stats", str(corpora / "metasynth"), "--metrics", "bogus"]) == 1


@pytest.mark.parametrize("spec", ["corpus/nothere", "./nothere", "someone/some-dataset"])
def test_a_missing_corpus_is_one_error_line_not_a_hub_traceback(spec, tmp_path, capsys):
    # HF_HUB_OFFLINE=1 (conftest): a Hub id cannot be loaded either, and the line says why
    assert main(["stats", spec, "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and spec in err[0] and "no such file or folder" in err[0], err


@pytest.mark.slow
def test_stats_prints_each_stage_as_it_runs(corpora, tmp_path, capsys, cache_dir):
    argv = ["stats", str(corpora / "metasynth"), "--out", str(tmp_path / "o"), "--no-plots"]
    assert main([*argv, "--set", f"cache_dir={cache_dir}", "--set", "cpu_threads=1"]) == 0
    err = capsys.readouterr().err
    for stage in ("lexical", "embeddings", "task2vec"):
        assert f"stats: corpus 1, {stage} ..." in err and f"stats: corpus 1, {stage}: done in" in err
    assert err.index("task2vec ...") < err.index("task2vec: done")
