"""`metasynth merge`: shards of one run from several dirs become one ordered parquet dataset."""

from __future__ import annotations

import datasets
import pytest

from metasynth_hf.cli import main
from tests.support.runs import make_run_dir


def test_merge_two_machine_dirs(tmp_path, capsys):
    a = make_run_dir(tmp_path / "node0", n=6, shards=2)
    b = tmp_path / "node1"
    b.mkdir()
    (a / "shard-00001-of-00002.jsonl").rename(b / "shard-00001-of-00002.jsonl")
    (b / "fingerprint.json").write_text((a / "fingerprint.json").read_text())
    assert main(["merge", str(a), str(b), "--out", str(tmp_path / "out"), "--expect-shards", "2"]) == 0
    assert "merged 6 documents" in capsys.readouterr().out
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "out/data/*.parquet"), split="train")
    assert ds["id"] == [f"finance-metasynth-s0-{i:07d}" for i in range(6)]


def test_merge_refuses_other_runs_and_missing_shards(tmp_path, capsys):
    a = make_run_dir(tmp_path / "a", fingerprint="fp1")
    b = make_run_dir(tmp_path / "b", fingerprint="fp2")
    assert main(["merge", str(a), str(b), "--out", str(tmp_path / "out")]) == 1
    assert "different runs" in capsys.readouterr().err
    assert main(["merge", str(a), "--out", str(tmp_path / "out"), "--expect-shards", "3"]) == 1
    assert "expected 3" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [["--help"], ["merge", "--help"], ["push", "--help"]])
def test_help_explains_itself(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "metasynth" in capsys.readouterr().out


def test_corpus_files_prefer_the_exported_parquet_over_shards_and_staging(tmp_path):
    from metasynth_hf.corpus_files import local_corpus_files
    from metasynth_hf.shards import merged_records, write_parquet

    run = make_run_dir(tmp_path / "run", n=4, shards=2)
    assert local_corpus_files(run)[0] == "json" and len(local_corpus_files(run)[1]) == 2
    write_parquet(merged_records([run]), run)
    write_parquet(merged_records([run]), run / "hub")  # staging copy must not count twice
    builder, files = local_corpus_files(run)
    assert builder == "parquet" and files == [str(run / "data" / "train-00000-of-00001.parquet")]
