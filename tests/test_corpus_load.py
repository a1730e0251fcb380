"""`corpus.load.load_corpus`: the one reader of corpora every stage uses."""

from __future__ import annotations

import json

import pytest

from metasynth_hf.corpus.load import load_corpus
from metasynth_hf.errors import ConfigError
from metasynth_hf.generation.methods.instruct import load_sources
from tests.support.runs import make_run_dir


def test_an_unexported_run_reads_its_shards_in_index_order_without_the_torn_line(tmp_path):
    run = make_run_dir(tmp_path / "run", n=6, shards=2)
    with (run / "shard-00001-of-00002.jsonl").open("a") as fh:
        fh.write('{"id": "torn')  # a kill -9 mid-write: the last line is incomplete
    corpus = load_corpus(run)
    assert corpus["id"] == [f"finance-metasynth-s0-{i:07d}" for i in range(6)]  # merged by index
    assert {"text", "provenance", "seed"} <= set(corpus.column_names)


def test_the_exported_parquet_wins_over_the_shards(tmp_path, capsys):
    from metasynth_hf.cli import main

    run = make_run_dir(tmp_path / "run", n=4, shards=1)
    assert main(["merge", str(run), "--out", str(run)]) == 0
    (run / "shard-00000-of-00001.jsonl").write_text("")  # only data/*.parquet is read now
    assert len(load_corpus(run)) == 4


def test_a_cleaned_folder_is_a_corpus_for_instruct(tmp_path):
    folder = tmp_path / "clean" / "data"
    folder.mkdir(parents=True)
    rows = [{"id": f"d{i}", "text": f"Text {i} on bond ladders.", "topic": "bonds"} for i in range(3)]
    (folder / "train-00000-of-00001.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "clean" / "removed.parquet").write_bytes(b"not read")
    sources = load_sources(str(tmp_path / "clean"))
    assert [(s.id, s.topic) for s in sources] == [("d0", "bonds"), ("d1", "bonds"), ("d2", "bonds")]


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("./nothere", "no such file or folder"),
        ("someone/some-dataset", "HF_HUB_OFFLINE=1: only datasets already in the cache load"),  # conftest
    ],
)
def test_a_missing_corpus_is_one_line_naming_the_argument(source, match):
    with pytest.raises(ConfigError, match=match) as info:
        load_corpus(source, what="--reference")
    assert str(info.value).startswith(f"--reference {source!r}")


def test_a_missing_column_names_the_columns(tmp_path):
    path = tmp_path / "real.jsonl"
    path.write_text(json.dumps({"body": "x"}) + "\n")
    with pytest.raises(ConfigError, match=r"no 'text' column \(columns: \['body'\]\)"):
        load_corpus(path)
    assert load_corpus(path, column="body")["body"] == ["x"]


def test_write_corpus_replaces_the_data_and_carries_the_run_files(tmp_path):
    from metasynth_hf.corpus.shards import write_corpus

    run = make_run_dir(tmp_path / "run", n=5, shards=1)
    kept = load_corpus(run).filter(lambda row: not row["id"].endswith("2"))  # a filtered, indexed view
    out = tmp_path / "kept"
    (out / "data").mkdir(parents=True)
    (out / "data" / "train-00000-of-00009.parquet").write_bytes(b"stale")  # an older, larger export
    paths = write_corpus(kept, out, rows_per_file=2, metadata_from=[run, tmp_path / "not-a-run"])
    assert [p.name for p in paths] == [f"train-0000{i}-of-00002.parquet" for i in range(2)]
    assert sorted(p.name for p in (out / "data").iterdir()) == [p.name for p in paths]  # stale file gone
    assert load_corpus(out)["id"] == kept["id"] and len(kept) == 4
    assert (out / "fingerprint.json").read_text() == (run / "fingerprint.json").read_text()
    assert (out / "summary-00000-of-00001.json").is_file() and (out / "metasynth_run.yaml").is_file()


def test_a_list_of_files_is_one_corpus_in_order_and_one_format(tmp_path):
    """Seed corpora given as several files read through the same loader as every other stage."""
    import pandas as pd

    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text('{"text": "one"}\n{"text": "two"}\n')
    second.write_text('{"text": "three"}\n')
    assert load_corpus([first, second])["text"] == ["one", "two", "three"]
    pd.DataFrame({"text": ["four"]}).to_parquet(tmp_path / "c.parquet")
    with pytest.raises(ConfigError, match=r"mix formats \(\['json', 'parquet'\]\)"):
        load_corpus([first, tmp_path / "c.parquet"], what="seed corpus")
    with pytest.raises(ConfigError, match="seed corpus: .*nope.jsonl'\\] do not exist"):
        load_corpus([first, tmp_path / "nope.jsonl"], what="seed corpus")
