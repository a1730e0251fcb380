"""The whole pass: Dataset in, Dataset out, every column kept; CLI outputs; card counts."""

from __future__ import annotations

import json
import random

import pytest

from metasynth_hf.clean import CleanConfig, clean_corpus, render_markdown
from metasynth_hf.cli import main
from metasynth_hf.commands.clean import build_config
from metasynth_hf.config_io import load_config
from metasynth_hf.errors import ConfigError
from tests.clean.textgen import corpus, edit

EVAL = {"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."}


def dirty_corpus() -> list[dict]:
    """Unrelated documents plus one planted problem of each kind."""
    docs = corpus(40, seed=12)
    rng = random.Random(2)
    docs.append(dict(docs[1], id="exact"))
    docs.append(dict(docs[2], id="near", text=edit(docs[2]["text"], rng, words=2)))
    docs.append(dict(docs[3], id="leak", text=docs[3]["text"] + "\n\n" + EVAL["question"]))
    docs.append(dict(docs[4], id="ai", text="As an AI, here it is.\n\n" + docs[4]["text"]))
    docs.append({**docs[5], "id": "short", "text": "Too short."})
    return docs


EXPECTED = {
    "exact": "dedup.exact",
    "near": "dedup.near",
    "leak": "decontamination.gsm",
    "ai": "artefacts.ai_phrase",
    "short": "length.too_short",
}


def full_config(eval_path) -> CleanConfig:
    return CleanConfig.model_validate({"decontamination": {"eval_sets": [{"name": "gsm", "path": str(eval_path)}]}})


@pytest.fixture()
def eval_path(tmp_path):
    path = tmp_path / "eval.jsonl"
    path.write_text(json.dumps(EVAL) + "\n", encoding="utf-8")
    return path


def test_dataset_in_dataset_out_with_every_column(eval_path):
    import datasets

    data = datasets.Dataset.from_list(dirty_corpus())
    result = clean_corpus(data, full_config(eval_path))
    assert isinstance(result.kept, datasets.Dataset)
    assert result.kept.column_names == data.column_names
    assert len(result.kept) == 40
    assert result.kept[0]["provenance"] == {"seed": 0, "model": "smollm2"}
    removed = {row["id"]: row["clean_rule"] for row in result.removed}
    assert removed == EXPECTED
    assert set(result.removed.column_names) == set(data.column_names) | {
        "clean_rule",
        "clean_detail",
    }
    report = json.loads(json.dumps(result.report))  # JSON-able
    assert report["removed_by_rule"] == {rule: 1 for rule in EXPECTED.values()}
    assert report["removed_by_section"]["dedup"] == 2
    assert report["input_documents"] == 45 and report["kept_documents"] == 40
    assert report["kept_words"] < report["input_words"]
    assert report["rules_applied"] == [
        "exact",
        "length",
        "artefacts",
        "repetition",
        "language",
        "decontamination",
        "near",
    ]


def test_records_in_records_out_same_decisions(eval_path):
    records = dirty_corpus()
    result = clean_corpus(records, full_config(eval_path))
    assert {r["id"]: r["clean_rule"] for r in result.removed} == EXPECTED
    assert result.kept == [r for r in records if r["id"] not in EXPECTED]


def test_card_section_lists_the_counts(eval_path):
    report = clean_corpus(dirty_corpus(), full_config(eval_path)).report
    card = render_markdown(report)
    assert "40 of 45 documents kept" in card
    for rule in EXPECTED.values():
        assert f"| `{rule}` | 1 | 2.22% |" in card
    assert "Decontaminated against `gsm`: 1 passages (13-gram overlap)" in card


def test_config_is_strict_and_yaml_shaped(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("clean:\n  near:\n    threshold: 0.7\n    shingle: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="near.shingle: unknown field"):
        build_config(path, [], [])
    path.write_text("clean:\n  near: {threshold: 0.7}\n  length: {min_words: 10}\n", encoding="utf-8")
    config = build_config(path, ["repetition.dup_line_frac=null"], ["evals/x.jsonl"])
    assert config.near.threshold == 0.7 and config.length.min_words == 10
    assert config.repetition.dup_line_frac is None
    assert config.decontamination.eval_sets[0].path == "evals/x.jsonl"
    path.write_text("num_docs: 8\ndomain: finance\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="neither a `clean:` section"):
        build_config(path, [], [])
    section = tmp_path / "clean.yaml"
    section.write_text("exact: {normalize: false}\n", encoding="utf-8")
    assert load_config(CleanConfig, section).exact.normalize is False
    with pytest.raises(ConfigError, match="min_words"):
        build_config(None, ["length.min_words=10", "length.max_words=5"], [])


def test_cli_cleans_across_shards_and_writes_side_file(tmp_path, eval_path, capsys):
    import datasets

    docs = dirty_corpus()
    src = tmp_path / "corpus"
    (src / "lane-a").mkdir(parents=True)
    (src / "lane-b").mkdir()
    # the duplicates sit in another shard and lane than their originals
    datasets.Dataset.from_list(docs[:40]).to_parquet(str(src / "lane-a" / "shard-0.parquet"))
    datasets.Dataset.from_list(docs[40:]).to_parquet(str(src / "lane-b" / "shard-1.parquet"))
    out = tmp_path / "clean"
    args = [
        "clean",
        str(src),
        "--out",
        str(out),
        "--eval",
        str(eval_path),
        "--max-rows-per-shard",
        "15",
    ]
    assert main(args) == 0
    assert "kept 40 of 45 documents" in capsys.readouterr().out
    assert len(list((out / "data").glob("train-*.parquet"))) == 3
    kept = datasets.load_dataset(str(out))
    assert list(kept) == ["train"] and len(kept["train"]) == 40  # removed.parquet is no split
    assert kept["train"].column_names == ["id", "text", "domain", "method", "provenance"]
    removed = datasets.Dataset.from_parquet(str(out / "removed.parquet"))
    rules = dict(zip(removed["id"], removed["clean_rule"], strict=True))
    assert rules == {**EXPECTED, "leak": "decontamination.eval.jsonl"}
    report = json.loads((out / "clean_report.json").read_text())
    assert report["removed_documents"] == 5
    assert main(args) == 1  # refuses to mix with the earlier result
    assert main([*args, "--overwrite"]) == 0
    # a cleaned directory can be cleaned again: removed.parquet is not read back in
    again = tmp_path / "again"
    assert main(["clean", str(out), "--out", str(again), "--eval", str(eval_path)]) == 0
    assert json.loads((again / "clean_report.json").read_text())["removed_documents"] == 0


def test_cli_reads_jsonl_and_reports_bad_input(tmp_path, capsys):
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps({"body": d["text"]}) + "\n" for d in corpus(5, seed=3)), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["clean", str(src), "--out", str(out), "--text-field", "body"]) == 0
    assert json.loads((out / "clean_report.json").read_text())["kept_documents"] == 5
    assert main(["clean", str(src), "--out", str(tmp_path / "o2")]) == 1
    assert "no 'text' column" in capsys.readouterr().err
    assert main(["clean", str(tmp_path / "missing"), "--out", str(tmp_path / "o3")]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    # HF_HUB_OFFLINE=1 (conftest): a Hub id not in the cache fails, and the line says why
    assert main(["clean", "no-such-org/no-such-corpus", "--out", str(tmp_path / "o4")]) == 1
    assert "HF_HUB_OFFLINE=1: only datasets already in the cache load" in capsys.readouterr().err


def test_dataset_without_id_column_uses_row_numbers():
    import datasets

    docs = [{"text": d["text"]} for d in corpus(4, seed=2)]
    data = datasets.Dataset.from_list(docs + [docs[2]])
    config = CleanConfig.all_off().model_copy(update={"exact": CleanConfig().exact})
    result = clean_corpus(data, config)
    assert result.removed["clean_detail"] == ["same text as 2"]
    assert len(result.kept) == 4
    with pytest.raises(ConfigError, match="takes one split"):
        clean_corpus(datasets.DatasetDict({"train": data}), config)
