"""`metasynth stats` compares corpora at equal tokens and says so: the cut, its count, its intervals."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys

import datasets
import pytest

from metasynth_hf.cli import main
from metasynth_hf.corpus.load import load_corpus
from metasynth_hf.metrics.config import MetricsConfig
from metasynth_hf.metrics.lexical import lexical_stats
from metasynth_hf.metrics.report import format_table
from metasynth_hf.metrics.sizing import SPACE_SPLIT, count_tokens, space_split_tokens
from metasynth_hf.metrics.statistics import announce_task2vec, corpus_rows_fingerprint, size_corpora

LEXICAL = "compression_ratio,ngram_diversity"


@pytest.fixture()
def two_sizes(tmp_path, varied, template):
    """A small corpus (8 varied documents, 1,170 tokens) and a larger one (40 template documents, 1,520)."""
    datasets.Dataset.from_dict({"text": varied[:8]}).to_parquet(str(tmp_path / "small.parquet"))
    datasets.Dataset.from_dict({"text": template}).to_json(str(tmp_path / "big.jsonl"))
    return tmp_path


def test_the_space_split_count_is_the_num_tokens_of_the_reports(varied, unicode_docs):
    for texts in (varied, unicode_docs[:-1]):
        assert count_tokens(texts, space_split_tokens) == lexical_stats(texts)["num_tokens"]


def test_corpora_are_cut_to_the_smallest_and_every_entry_says_so(varied, template):
    scored, sizing = size_corpora({"small": varied[:8], "big": template}, equal_tokens=True)
    budget = count_tokens(varied[:8], space_split_tokens)
    assert scored["small"] == varied[:8] and count_tokens(scored["big"], space_split_tokens) == budget
    assert sizing["big"] == {
        "tokenizer": SPACE_SPLIT,
        "corpus_tokens": count_tokens(template, space_split_tokens),
        "corpus_documents": 40,
        "cut_to_tokens": budget,
    }
    alone, sizing = size_corpora({"small": varied[:8]}, equal_tokens=True)
    assert alone["small"] == varied[:8] and sizing["small"]["cut_to_tokens"] is None


def test_uncut_corpora_of_different_sizes_are_warned_about(varied, template, caplog):
    with caplog.at_level(logging.WARNING):
        scored, sizing = size_corpora({"small": varied[:8], "big": template}, equal_tokens=False)
    assert scored["big"] is template and sizing["big"]["cut_to_tokens"] is None
    assert "scored whole" in caplog.text and "drop --uncut" in caplog.text


def test_stats_compare_cuts_labels_and_gives_intervals(two_sizes, tmp_path, capsys):
    out = tmp_path / "stats"
    argv = ["stats", str(two_sizes / "small.parquet"), "--compare", str(two_sizes / "big.jsonl")]
    assert main([*argv, "--metrics", LEXICAL, "--no-plots", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    reports = json.loads((out / "diversity.json").read_text())
    small, big = reports["small"], reports["big"]
    budget = small["sizing"]["corpus_tokens"]
    assert big["sizing"]["cut_to_tokens"] == small["sizing"]["cut_to_tokens"] == budget
    assert big["num_tokens"] == small["num_tokens"] == budget < big["sizing"]["corpus_tokens"]
    assert big["num_documents"] < big["sizing"]["corpus_documents"] == 40
    low, high = big["metrics"]["compression_ratio"]["ci95"]
    assert low <= big["metrics"]["compression_ratio"]["value"] <= high
    # the fingerprint `push` matches is of the whole corpus's rows, never of the cut
    whole = load_corpus(str(two_sizes / "big.jsonl"))
    assert big["rows_fingerprint"] == corpus_rows_fingerprint(whole)
    assert "tokens (space-split)" in printed and f"{budget:,} of {big['sizing']['corpus_tokens']:,}" in printed
    assert f"cut to {budget:,} space-split tokens" in printed and "--uncut" in printed
    assert f"[{low:.4f}, {high:.4f}]" in printed


def test_stats_uncut_scores_whole_corpora_and_warns(two_sizes, tmp_path, capsys, caplog):
    out = tmp_path / "stats"
    argv = ["stats", str(two_sizes / "small.parquet"), "--compare", str(two_sizes / "big.jsonl"), "--uncut"]
    assert main([*argv, "--metrics", LEXICAL, "--no-plots", "--out", str(out), "--set", "interval_rounds=0"]) == 0
    captured = capsys.readouterr()
    reports = json.loads((out / "diversity.json").read_text())
    assert reports["big"]["num_documents"] == 40 and reports["big"]["sizing"]["cut_to_tokens"] is None
    assert "ci95" not in reports["big"]["metrics"]["compression_ratio"]
    assert "drop --uncut" in caplog.text and "scored whole at different sizes" in captured.out


def _report(name, tokens, docs, cut, value, ci=None):
    entry = {"value": value, "direction": "lower", **({"ci95": ci} if ci else {})}
    sizing = {"tokenizer": SPACE_SPLIT, "corpus_tokens": tokens, "corpus_documents": docs, "cut_to_tokens": cut}
    return {
        "name": name,
        "num_documents": docs if cut is None else 12,
        "num_tokens": cut or tokens,
        "metrics": {"compression_ratio": entry},
        "sizing": sizing,
    }


GOLDEN_CUT = """\
metric                                  small                         big
documents                            12 of 12                    12 of 40
tokens (space-split)               503 of 503                503 of 1,338
compression_ratio ↓   2.1240 [2.0500, 2.2000]  15.6365 [15.1000, 16.2000]

Every corpus was cut to 503 space-split tokens (the smallest corpus's count; text split on spaces,
as the n-gram metrics count) before scoring, the last document at a word: length-sensitive metrics
compare at equal size (`stats --uncut` scores whole corpora).
[low, high]: 95% intervals (subsampled documents; Task2Vec over probe batches; homogenization
bootstrapped, none when every document pair was scored)."""


def test_the_table_of_a_cut_comparison():
    reports = {
        "small": _report("small", 503, 12, 503, 2.124, [2.05, 2.2]),
        "big": _report("big", 1338, 40, 503, 15.6365, [15.1, 16.2]),
    }
    assert format_table(reports, intervals=True) == GOLDEN_CUT
    plain = format_table(reports)
    assert "[" not in plain.splitlines()[3] and "95% intervals" not in plain


def test_a_table_without_sizing_is_unchanged():
    """`metasynth compare` prints its reports (no `sizing`) as before."""
    reports = {"a": {"metrics": {"compression_ratio": {"value": 2.0, "direction": "lower", "ci95": [1.0, 3.0]}}}}
    assert format_table(reports) == "metric                        a\ncompression_ratio ↓      2.0000"


def test_task2vec_announces_its_cost_its_cache_and_how_to_skip_it(monkeypatch, capsys, tmp_path):
    import metasynth_hf.causal_lm as causal_lm

    monkeypatch.setattr(causal_lm, "pending_conversion", lambda ref: (tmp_path / "converted" / "probe", 538_060_032))
    announce_task2vec(MetricsConfig(metrics=("compression_ratio", "task2vec_diversity")))
    captured = capsys.readouterr()
    assert captured.out == ""
    line = captured.err.strip()
    assert len(line.splitlines()) == 1 and "most of the time" in line and "538 MB" in line
    assert str(tmp_path / "converted" / "probe") in line and line.endswith("skip it with --metrics compression_ratio")
    monkeypatch.setattr(causal_lm, "pending_conversion", lambda ref: None)  # already converted: no cache line
    announce_task2vec(MetricsConfig(metrics=("task2vec_diversity", "vendi_score")))
    err = capsys.readouterr().err
    assert "converting" not in err and "--metrics vendi_score" in err
    announce_task2vec(MetricsConfig(metrics=("vendi_score",)))
    assert capsys.readouterr().err == ""


def test_the_probe_conversion_keeps_library_output_off_stdout(monkeypatch, tmp_path, capsys):
    """DeepSpeed, imported by accelerate while the converted probe is saved, binds its logger to
    the sys.stdout of that moment and warns "Setting accelerator to CPU" on it."""
    import metasynth_hf.causal_lm as causal_lm
    from metasynth_hf.models import resolve_model

    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    ref = resolve_model("smollm2")
    monkeypatch.setattr(
        causal_lm,
        "resolve_model",
        lambda _: dataclasses.replace(ref, name_or_path=str(tmp_path), gguf_file="m.gguf"),
    )

    def convert(gguf_path, out_dir):
        library = logging.getLogger("test.DeepSpeed-like")
        library.propagate = False
        library.addHandler(logging.StreamHandler(stream=sys.stdout))
        library.warning("Setting accelerator to CPU.")
        print("a library print")
        (out_dir / "config.json").write_text("{}")

    monkeypatch.setattr(causal_lm, "_convert", convert)
    causal_lm.trainable_checkpoint("smollm2", cache_dir=tmp_path / "cache")
    logging.getLogger("test.DeepSpeed-like").warning("later warnings too")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Setting accelerator to CPU." in captured.err and "a library print" in captured.err
