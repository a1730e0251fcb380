"""The datasets builder on the embedded model: both entry points, schema, fingerprinted cache,
sharding across machines and processes, and resume after kill -9."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import metasynth_hf
from metasynth_hf.builder import MetaSynthBuilder
from metasynth_hf.corpus.shards import record_features
from metasynth_hf.errors import ConfigError
from metasynth_hf.generation.prompts import PromptSet

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "builders" / "metasynth"
TINY = {
    "target_words": 30,
    "lanes": 2,
    "expert_sampling": {"max_tokens": 24, "temperature": 0.8},
    "conductor_sampling": {"max_tokens": 24, "temperature": 0.7},
}


def _summaries(work: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(work.glob("summary-*.json"))]


def test_load_dataset_entry_point_schema_and_cache_reuse(tmp_path):
    work = tmp_path / "work"
    kwargs = dict(cache_dir=str(tmp_path / "cache"), num_docs=3, output_dir=str(work), **TINY)
    ds = metasynth_hf.load_dataset(str(SCRIPT), "finance-template", split="train", **kwargs)
    assert ds.features == record_features()
    assert ds["id"] == [f"finance-template-s0-{i:07d}" for i in range(3)]
    assert all(text.strip() for text in ds["text"]) and set(ds["method"]) == {"template"}
    paid = sum(s["generated"] for s in _summaries(work))
    assert paid == 3
    stamp = {p: p.stat().st_mtime_ns for p in work.glob("summary-*.json")}
    again = metasynth_hf.load_dataset(str(SCRIPT), "finance-template", split="train", **kwargs)
    assert again["text"] == ds["text"]
    assert {p: p.stat().st_mtime_ns for p in work.glob("summary-*.json")} == stamp  # no generation ran


def test_builder_class_entry_point_and_fingerprint(tmp_path):
    base = dict(cache_dir=str(tmp_path / "cache"), config_name="finance-template", num_docs=2, **TINY)
    a = MetaSynthBuilder(**base)
    assert MetaSynthBuilder(**base).cache_dir == a.cache_dir  # same config, same cache
    assert MetaSynthBuilder(**{**base, "seed": 1}).cache_dir != a.cache_dir
    prompts = tmp_path / "prompts"
    shutil.copytree(PromptSet(None).root, prompts)
    changed = next(p for p in sorted(prompts.rglob("*")) if p.is_file())
    changed.write_text(changed.read_text() + "\nBe concise.\n")
    assert MetaSynthBuilder(**{**base, "prompts_dir": str(prompts)}).cache_dir != a.cache_dir
    a.download_and_prepare()
    ds = a.as_dataset(split="train")
    assert len(ds) == 2 and len(set(ds["id"])) == 2


def test_bad_config_fails_before_any_model_call(tmp_path):
    with pytest.raises(ConfigError, match="lanes"):
        MetaSynthBuilder(cache_dir=str(tmp_path), config_name="finance", lanes=0)
    with pytest.raises(ConfigError, match="custom"):
        MetaSynthBuilder(cache_dir=str(tmp_path), config_name="custom")
    with pytest.raises(ValueError, match="doesn't have a 'nmu_docs' key"):
        MetaSynthBuilder(cache_dir=str(tmp_path), config_name="finance", nmu_docs=3)


def test_machine_shards_and_process_parts_give_the_ids_of_one_run(tmp_path):
    common = dict(config_name="finance-template", num_docs=4, **TINY)
    ids = []
    for k in range(2):
        b = MetaSynthBuilder(cache_dir=str(tmp_path / f"m{k}"), shard_index=k, num_shards=2, **common)
        b.download_and_prepare()
        ids += b.as_dataset(split="train")["id"]
    one_run = [f"finance-template-s0-{i:07d}" for i in range(4)]
    assert sorted(ids) == one_run and len(set(ids)) == 4
    b = MetaSynthBuilder(cache_dir=str(tmp_path / "procs"), **common)
    b.download_and_prepare(num_proc=2)  # two generation processes
    assert sorted(b.as_dataset(split="train")["id"]) == one_run
    assert len(list(b.work_dir().glob("shard-*-of-00002.jsonl"))) == 2
    # one response cache per process: two writers never share an SQLite file
    assert sorted(p.name for p in b.work_dir().glob("llm_cache-part-*.sqlite")) == [
        "llm_cache-part-0-of-2.sqlite",
        "llm_cache-part-1-of-2.sqlite",
    ]


RUNNER = textwrap.dedent(
    """
    import sys
    from metasynth_hf.builder import MetaSynthBuilder
    b = MetaSynthBuilder(cache_dir=sys.argv[1], config_name="finance-template", num_docs=4,
                         output_dir=sys.argv[2], lanes=1, target_words=30,
                         expert_sampling={"max_tokens": 24, "temperature": 0.8})
    b.download_and_prepare()
    ds = b.as_dataset(split="train")
    print("ROWS", len(ds), len(set(ds["id"])))
    """
)


def test_resume_after_kill_9(tmp_path):
    script = tmp_path / "build.py"
    script.write_text(RUNNER)
    work = tmp_path / "work"
    cmd = [sys.executable, str(script), str(tmp_path / "cache"), str(work)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    shard = work / "shard-00000-of-00001.jsonl"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if shard.is_file() and shard.read_text().count("\n") >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    kept = shard.read_text().count("\n")
    assert 2 <= kept < 4, "the kill must land mid-run"
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True)
    assert "ROWS 4 4" in rerun.stdout
    summary = _summaries(work)[0]
    assert summary["resumed"] == kept and summary["generated"] == 4 - kept
    assert shard.read_text().count("\n") == 4


def test_builder_shows_progress_through_datasets_bars_and_logging(tmp_path, capfd, caplog):
    import datasets

    base = dict(config_name="finance-template", num_docs=1, **TINY)
    datasets.logging.set_verbosity_info()
    try:
        MetaSynthBuilder(cache_dir=str(tmp_path / "a"), **base).download_and_prepare()
    finally:
        datasets.logging.set_verbosity_warning()
    err = capfd.readouterr().err
    assert "generating template documents:" in err and "calls 1 (+0 running)" in err  # the bar, with live calls
    lines = [r.getMessage() for r in caplog.records if r.name == "datasets.metasynth"]
    assert any("1/1 documents (1 made here" in line for line in lines)  # one INFO line per document
    datasets.disable_progress_bars()
    try:
        MetaSynthBuilder(cache_dir=str(tmp_path / "b"), **base).download_and_prepare()
    finally:
        datasets.enable_progress_bars()
    assert "metasynth template part" not in capfd.readouterr().err  # silenced like datasets' own bars
