"""Corpus loading: every source kind the recipes allow, reduced to one `text` column."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from metasynth_hf.corpus.records import Record
from metasynth_hf.errors import ConfigError
from metasynth_hf.training.data import load_corpus, load_source, mix, to_text

from .corpora import make_texts, write_parquet

TEXTS = make_texts(20)


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path, monkeypatch):
    """Keep `datasets`' Arrow cache (and builder output) inside the test's own folder."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")


def test_parquet_directory_and_single_files(tmp_path) -> None:
    corpus = write_parquet(tmp_path / "corpus", TEXTS)
    assert list(load_source(str(corpus))["text"]) == TEXTS
    assert list(load_source(str(corpus / "train-00000.parquet"))["text"]) == TEXTS
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    assert list(load_source(str(jsonl))["text"]) == TEXTS


def test_generator_output_directory(tmp_path) -> None:
    """Raw `metasynth generate` output: JSONL shards beside summaries; a torn line is skipped."""
    out = tmp_path / "run"
    out.mkdir()
    for shard in range(2):
        lines = [
            Record(f"finance-metasynth-s0-{2 * i + shard:07d}", t, "finance", "metasynth", [], "", 9, "{}").to_json()
            for i, t in enumerate(TEXTS[shard::2])
        ]
        (out / f"shard-{shard:05d}-of-00002.jsonl").write_text("\n".join(lines) + '\n{"id": "to')
    (out / "summary-00000-of-00002.json").write_text("{}")
    (out / "fingerprint.json").write_text('{"fingerprint": "fp", "fields": {}}')
    assert load_source(str(out))["text"] == TEXTS  # merged in index order
    (out / "fingerprint.json").write_text("{}")
    with pytest.raises(ConfigError, match="is not a run fingerprint"):
        load_source(str(out))


def test_cleaned_corpus_leaves_removed_documents_out(tmp_path) -> None:
    """`metasynth clean` output: data/train-*.parquet is the corpus, removed.parquet is not."""
    out = tmp_path / "clean"
    write_parquet(out / "data", TEXTS[:15], name="train-00000-of-00001.parquet")
    write_parquet(out, TEXTS[15:], name="removed.parquet")
    (out / "clean_report.json").write_text("{}")
    assert list(load_source(str(out))["text"]) == TEXTS[:15]


def test_save_to_disk_directory(tmp_path) -> None:
    import datasets

    datasets.Dataset.from_dict({"text": TEXTS}).save_to_disk(str(tmp_path / "saved"))
    assert list(load_source(str(tmp_path / "saved"))["text"]) == TEXTS


BUILDER = """
import datasets

class Tiny(datasets.GeneratorBasedBuilder):
    BUILDER_CONFIGS = [datasets.BuilderConfig(name="finance"), datasets.BuilderConfig(name="bio")]

    def _info(self):
        return datasets.DatasetInfo(features=datasets.Features({"text": datasets.Value("string")}))

    def _split_generators(self, dl_manager):
        return [datasets.SplitGenerator(name="train")]

    def _generate_examples(self):
        for i in range(3):
            yield i, {"text": f"{self.config.name} document {i}"}
"""


def test_builder_script_directory(tmp_path) -> None:
    """A builder directory runs even on datasets 4+, with its config chosen by `name`."""
    builder = tmp_path / "tinybuilder"
    builder.mkdir()
    (builder / "tinybuilder.py").write_text(BUILDER)
    rows = load_source(str(builder), name="bio")
    assert list(rows["text"]) == ["bio document 0", "bio document 1", "bio document 2"]


def test_instruction_data_becomes_text() -> None:
    import datasets

    pairs = datasets.Dataset.from_dict({"instruction": ["Explain duration."], "response": ["It is..."]})
    assert list(to_text(pairs, "text")["text"]) == ["Explain duration.\n\nIt is..."]
    chats = datasets.Dataset.from_dict(
        {"messages": [[{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]]}
    )
    assert list(to_text(chats, "text")["text"]) == ["Q?\n\nA."]
    with pytest.raises(ConfigError, match="no 'text' column .*'body'"):
        to_text(datasets.Dataset.from_dict({"body": ["x"]}), "text")


def test_mix_keeps_the_largest_mixture_that_oversamples_nothing() -> None:
    import datasets

    docs = datasets.Dataset.from_dict({"text": [f"d{i}" for i in range(90)]})
    instr = datasets.Dataset.from_dict({"text": [f"i{i}" for i in range(5)]})
    mixed = mix([docs, instr], [0.9, 0.1])  # instructions limit the total to 50 rows
    texts = list(mixed["text"])
    assert len(texts) == 50 and sum(t.startswith("i") for t in texts) == 5
    assert len(mix([docs, instr], [None, None])) == 95
    with pytest.raises(ConfigError, match="fraction"):
        mix([docs, instr], [0.9, None])


def _args(**script):
    base = dict(
        dataset_name=None,
        dataset_config=None,
        dataset_train_split="train",
        dataset_test_split="test",
        dataset_streaming=False,
    )
    return SimpleNamespace(**{**base, **script})


def test_load_corpus_holds_out_a_split(tmp_path) -> None:
    corpus = write_parquet(tmp_path / "corpus", TEXTS)
    mixture = SimpleNamespace(datasets=[], streaming=False, test_split_size=0.25)
    splits = load_corpus(_args(dataset_name=str(corpus)), mixture, "text", seed=0)
    assert len(splits["train"]) == 15 and len(splits["test"]) == 5
    assert sorted([*splits["train"]["text"], *splits["test"]["text"]]) == sorted(TEXTS)
    assert splits["train"].column_names == ["text"]  # the extra `id` column is dropped
    with pytest.raises(ConfigError, match="no training data"):
        load_corpus(_args(), SimpleNamespace(datasets=[], streaming=False, test_split_size=None), "text", 0)


def test_missing_source_names_the_fix(tmp_path) -> None:
    with pytest.raises(ConfigError, match="cannot load training data"):
        load_source(str(tmp_path / "nope"))
