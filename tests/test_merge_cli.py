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
    from metasynth_hf.corpus.shards import record_features

    assert ds.features == record_features()  # the Arrow schema written without datasets reads back as ours


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
    from metasynth_hf.corpus.files import local_corpus_files
    from metasynth_hf.corpus.shards import merged_records, write_corpus

    run = make_run_dir(tmp_path / "run", n=4, shards=2)
    assert local_corpus_files(run)[0] == "json" and len(local_corpus_files(run)[1]) == 2
    write_corpus(merged_records([run]), run)
    write_corpus(merged_records([run]), run / "hub")  # staging copy must not count twice
    builder, files = local_corpus_files(run)
    assert builder == "parquet" and files == [str(run / "data" / "train-00000-of-00001.parquet")]


def test_merge_refuses_an_unfinished_run_naming_the_shards(tmp_path, capsys):
    run = make_run_dir(tmp_path / "run", n=6, shards=2)
    (run / "metasynth_run.yaml").write_text("num_docs: 8\nnum_shards: 2\n")  # shard 1 still running
    assert main(["merge", str(run), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "not complete: 2 of 8 documents missing (shards [0, 1] of 2" in err and "--allow-partial" in err
    assert not (tmp_path / "out").exists()
    assert main(["merge", str(run), "--out", str(tmp_path / "out"), "--allow-partial"]) == 0


@pytest.mark.slow
def test_a_slurm_like_array_into_one_folder_then_merge(tmp_path):
    """N shard processes at once into one --out (the documented Slurm layout): each its own cache
    file and lock, nobody exports alone, `merge` exports once every shard is done."""
    import json
    import os
    import subprocess
    import sys

    from tests.support.stub_server import StubServer

    out = tmp_path / "data"
    text = "Margin calls rose as the clearing house revised haircuts on sovereign collateral. " * 3
    with StubServer("stub", text, delay_s=0.2) as server:
        cmd = [
            sys.executable,
            "-m",
            "metasynth_hf.cli",
            "generate",
            "--method",
            "template",
            "--num-docs",
            "12",
            "--endpoint",
            server.url,
            "--out",
            str(out),
            "--no-progress",
        ]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        tasks = [
            subprocess.Popen([*cmd, "--shard", f"{k}/3"], env=env, stderr=subprocess.PIPE, text=True) for k in range(3)
        ]
        errors = [task.communicate(timeout=120)[1] for task in tasks]
    assert [task.returncode for task in tasks] == [0, 0, 0], errors
    assert sorted(p.name for p in out.glob("llm_cache*.sqlite")) == [
        f"llm_cache-shard-{k:05d}-of-00003.sqlite" for k in range(3)
    ]
    assert not (out / "data").exists()  # no shard exported alone
    assert all("metasynth merge" in e for e in errors)  # each says what to do when all are done
    assert main(["merge", str(out), "--out", str(out)]) == 0
    import datasets

    ds = datasets.load_dataset("parquet", data_files=str(out / "data" / "*.parquet"), split="train")
    assert ds["id"] == [f"finance-template-s0-{i:07d}" for i in range(12)]
    assert all(json.loads(p)["shard"].endswith("/3") for p in ds["provenance"])
