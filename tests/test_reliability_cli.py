"""Operator mistakes and environment failures on `metasynth generate`: one clear line, nothing lost.

Against a real OpenAI-compatible HTTP server on loopback (tests/support/stub_server.py).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time

import pytest

from metasynth_hf.cli import main
from tests.support.stub_server import StubServer

TEXT = "Treasury desks moved collateral between custodians as repo rates rose for the third week. " * 3


@pytest.fixture(scope="module")
def server():
    with StubServer("stub", TEXT) as s:
        yield s


def generate(url: str, out, *extra: str) -> int:
    return main(["generate", "--method", "template", "--endpoint", url, "--out", str(out), "--no-progress", *extra])


def one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1, err
    return err[0]


def test_a_second_writer_of_the_same_shard_fails_at_once_naming_the_holder(tmp_path, capsys):
    with StubServer("slow", TEXT, delay_s=1.0) as slow:
        cmd = [
            sys.executable,
            "-m",
            "metasynth_hf.cli",
            "generate",
            "--method",
            "template",
            "--num-docs",
            "6",
            "--lanes",
            "1",
            "--endpoint",
            slow.url,
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
        first = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"}
        )
        try:
            deadline = time.monotonic() + 60
            while slow.chat_requests == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            started, paid = time.monotonic(), slow.chat_requests
            assert generate(slow.url, tmp_path, "--num-docs", "6", "--lanes", "1") == 1
            line = one_error_line(capsys)
            assert time.monotonic() - started < 10 and f"pid {first.pid} on " in line and "is being written by" in line
            assert slow.chat_requests - paid <= 1  # the second run paid for nothing (one call of the first may land)
        finally:
            first.wait(60)
    assert first.returncode == 0
    ids = [json.loads(line)["id"] for line in (tmp_path / "shard-00000-of-00001.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 6  # no duplicates


def test_a_damaged_cache_is_one_line_and_never_blocks_a_complete_corpus(server, tmp_path, capsys):
    assert generate(server.url, tmp_path, "--num-docs", "2") == 0
    cache = tmp_path / "llm_cache.sqlite"
    for extra in ("-wal", "-shm"):
        (tmp_path / f"llm_cache.sqlite{extra}").unlink(missing_ok=True)
    cache.write_bytes(b"garbage!" * 512)  # header and pages destroyed
    capsys.readouterr()
    paid = server.chat_requests
    assert generate(server.url, tmp_path, "--num-docs", "2") == 0  # complete: nothing to ask, cache untouched
    assert server.chat_requests == paid
    capsys.readouterr()
    assert generate(server.url, tmp_path, "--num-docs", "3") == 1  # one more document needs the cache
    line = one_error_line(capsys)
    assert "response cache" in line and "is damaged" in line and ".bad" in line
    os.replace(cache, tmp_path / "llm_cache.sqlite.bad")
    assert generate(server.url, tmp_path, "--num-docs", "3") == 0  # as the message says
    assert server.chat_requests == paid + 1  # only the unfinished document was paid


def test_out_that_is_a_file_is_one_line(server, tmp_path, capsys):
    target = tmp_path / "corpus"
    target.write_text("not a folder")
    assert generate(server.url, target, "--num-docs", "1") == 1
    assert "is a file; give a folder" in one_error_line(capsys)


def test_a_full_disk_is_one_line_keeps_finished_documents_and_writes_the_summary(
    server, tmp_path, capsys, monkeypatch
):
    from metasynth_hf.corpus import store

    real_fsync, calls = os.fsync, {"n": 0}

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] > 2:  # two documents made it to disk, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "shard-00000-of-00001.jsonl"))
        real_fsync(fd)

    monkeypatch.setattr(store.os, "fsync", fsync)
    assert generate(server.url, tmp_path, "--num-docs", "5", "--lanes", "1") == 1
    line = one_error_line(capsys)
    assert "no space left on the device" in line and "rerun the same command to resume" in line
    summary = json.loads((tmp_path / "summary-00000-of-00001.json").read_text())
    assert "No space left" in summary["error"]
    monkeypatch.setattr(store.os, "fsync", real_fsync)
    assert generate(server.url, tmp_path, "--num-docs", "5", "--lanes", "1") == 0  # resumes
    lines = (tmp_path / "shard-00000-of-00001.jsonl").read_text().splitlines()
    assert len(lines) == 5 and len({json.loads(x)["id"] for x in lines}) == 5


def test_the_export_follows_num_docs_and_is_replaced_atomically(server, tmp_path, monkeypatch):
    import datasets

    assert generate(server.url, tmp_path, "--num-docs", "4") == 0
    assert generate(server.url, tmp_path, "--num-docs", "2") == 0  # fewer documents asked: fewer exported
    rows = datasets.load_dataset("parquet", data_files=str(tmp_path / "data" / "*.parquet"), split="train")
    assert rows["id"] == [f"finance-template-s0-{i:07d}" for i in range(2)]

    import pyarrow.parquet as pq

    def broken(self, batch, *args, **kwargs):  # pyarrow's writer, as the export calls it
        raise OSError(errno.ENOSPC, "No space left on device", "data.tmp")

    monkeypatch.setattr(pq.ParquetWriter, "write_batch", broken)
    assert generate(server.url, tmp_path, "--num-docs", "4") == 1  # the export fails half-way ...
    monkeypatch.undo()
    rows = datasets.load_dataset("parquet", data_files=str(tmp_path / "data" / "*.parquet"), split="train")
    assert len(rows) == 2  # ... and the previous export is still there, whole
    assert not list(tmp_path.glob("data.tmp-*"))


def test_duplicates_that_differ_only_in_timing_are_named_as_such(tmp_path):
    from metasynth_hf.corpus.shards import merged_records
    from metasynth_hf.errors import ConfigError

    with StubServer("m", TEXT) as s:
        assert generate(s.url, tmp_path, "--num-docs", "1") == 0
    shard = tmp_path / "shard-00000-of-00001.jsonl"
    record = json.loads(shard.read_text())
    prov = json.loads(record["provenance"])
    prov["wall_time_s"] += 1.5
    shard.write_text(shard.read_text() + json.dumps({**record, "provenance": json.dumps(prov)}) + "\n")
    with pytest.raises(ConfigError, match=r"with the same text, differing only in provenance\.wall_time_s"):
        merged_records([tmp_path])
