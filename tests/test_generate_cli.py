"""`metasynth generate`: flags over YAML, clear errors, and real runs against a real server.

The real runs use the llama.cpp OpenAI-compatible server with the SmolLM2 GGUF (the stand-in
for TGI) through `--endpoint`; the embedded-model path is covered in
tests/generation/test_real_model.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from metasynth_hf.cli import build_parser, main
from metasynth_hf.commands.generate import overrides_from
from metasynth_hf.config import RunConfig
from metasynth_hf.config_io import load_config
from metasynth_hf.errors import ConfigError

SMALL = ["--set", "expert_sampling.max_tokens=16", "--set", "target_words=40", "--no-progress"]


def config_of(argv: list[str]) -> RunConfig:
    args = build_parser().parse_args(["generate", *argv])
    return load_config(RunConfig, args.config, overrides_from(args))


def test_flags_override_the_yaml_file(tmp_path):
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("num_docs: 5\nlanes: 3\nseed: 7\nstop: {max_turns: 9}\n")
    config = config_of(["--config", str(yaml_file), "--lanes", "2", "--max-turns", "4", "--out", "x"])
    assert (config.num_docs, config.lanes, config.seed, config.stop.max_turns) == (5, 2, 7, 4)
    assert str(config.output_dir) == "x"


def test_shard_endpoint_and_set_flags():
    config = config_of(
        [
            "--num-docs",
            "8",
            "--shard",
            "1/4",
            "--endpoint",
            "http://a:8080",
            "--endpoint",
            "http://b:8080/v1",
            "--set",
            "stop.max_words=300",
            "--strict-final",
        ]
    )
    assert (config.shard_index, config.num_shards) == (1, 4)
    assert [e.url for e in config.conductor.endpoints] == ["http://a:8080", "http://b:8080"]
    assert config.experts is None and config.expert_model == config.conductor
    assert config.stop.max_words == 300 and config.stop.strict_final


def test_bad_shard_flag():
    with pytest.raises(ConfigError, match="--shard must look like i/N"):
        config_of(["--num-docs", "2", "--shard", "three"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--domain", "astrology", "--num-docs", "1"], "unknown domain 'astrology'"),
        (["--num-docs", "0"], "num_docs: Input should be greater than or equal to 1"),
        (["--method", "instruct", "--num-docs", "1"], "instruct.source"),
        (["--set", "stop.max_turn=3", "--num-docs", "1"], "stop.max_turn: unknown field"),
    ],
)
def test_bad_input_exits_1_with_the_fix_and_no_model_load(tmp_path, capsys, argv, message):
    started = time.monotonic()
    assert main(["generate", "--out", str(tmp_path), *argv]) == 1
    assert message in capsys.readouterr().err
    assert time.monotonic() - started < 20  # refused before any model was loaded


def test_method_choices_are_listed(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--method", "magic"])
    assert "template_prior" in capsys.readouterr().err


def cli(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "metasynth_hf.cli", "generate", *argv]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_real_server_run_resume_and_extend(llama_server, tmp_path):
    out = tmp_path / "corpus"
    base = ["--method", "template", "--endpoint", llama_server.url, "--out", str(out), *SMALL]
    done = cli(*base, "--num-docs", "2", "--lanes", "2")
    result = json.loads(done.stdout)
    assert (result["documents"], result["generated"], result["calls"]) == (2, 2, 2)
    records = [json.loads(line) for line in (out / "shard-00000-of-00001.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == [
        "finance-template-s0-0000000",
        "finance-template-s0-0000001",
    ]
    assert all(r["text"] and r["num_tokens"] > 0 for r in records)
    prov = json.loads(records[0]["provenance"])
    assert prov["models"]["writer"] and prov["tokens_by_role"]["writer"]["completion_tokens"] > 0
    summary = json.loads((out / "summary-00000-of-00001.json").read_text())
    assert summary["by_role"]["writer"]["calls"] == 2
    # the same command again: everything is already there
    again = json.loads(cli(*base, "--num-docs", "2", "--lanes", "2").stdout)
    assert (again["resumed"], again["generated"], again["calls"]) == (2, 0, 0)
    # more documents: the first two are kept, one is added
    more = json.loads(cli(*base, "--num-docs", "3", "--lanes", "2").stdout)
    assert (more["resumed"], more["generated"]) == (2, 1)
    # the run is also plain parquet, and its config is kept for `metasynth push`'s card
    import datasets

    parquet = datasets.load_dataset("parquet", data_files=more["parquet"], split="train")
    assert parquet["id"] == [f"finance-template-s0-{i:07d}" for i in range(3)]
    assert "method: template" in (out / "metasynth_run.yaml").read_text()
    # a different seed into the same folder is refused, naming the setting
    refused = cli(*base, "--num-docs", "3", "--seed", "1", check=False)
    assert refused.returncode == 1 and "seed" in refused.stderr


def _without_timing(shard) -> list[dict]:
    """Records with the measured latencies taken out (they differ between two real runs)."""
    out = []
    for line in shard.read_text().splitlines():
        record = json.loads(line)
        prov = json.loads(record.pop("provenance"))
        prov.pop("wall_time_s", None)
        out.append({**record, "provenance": prov})
    return out


@pytest.mark.slow
def test_kill_9_mid_document_then_rerun_gives_the_uninterrupted_corpus(llama_server, tmp_path):
    """MetaSynth, 2 lanes, killed while documents are in flight; the resumed corpus equals a run
    that was never interrupted, made on its own empty cache (not a replay of the same cache)."""
    import sqlite3

    base = [
        "--method",
        "metasynth",
        "--endpoint",
        llama_server.url,
        "--lanes",
        "2",
        "--num-docs",
        "3",
        "--set",
        "expert_set=[domain_expert,summarizer]",
        "--set",
        "stop.max_turns=2",
        "--set",
        "conductor_sampling.max_tokens=64",
        "--set",
        "memory.summarize_with=digest",
        *SMALL,
    ]
    killed, cache = tmp_path / "killed", tmp_path / "killed-cache.sqlite"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "metasynth_hf.cli", "generate", *base, "--out", str(killed), "--cache", str(cache)]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    shard = killed / "shard-00000-of-00001.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if shard.is_file() and shard.read_text().count("\n") >= 1:
            break  # one document published, the next ones in flight
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    lines_at_kill = shard.read_text().count("\n")
    assert 1 <= lines_at_kill < 3  # killed mid-run, with documents unfinished
    with sqlite3.connect(cache) as db:
        paid_before_kill = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    resumed = json.loads(cli(*base, "--out", str(killed), "--cache", str(cache)).stdout)
    assert resumed["documents"] == 3 and resumed["resumed"] == lines_at_kill
    fresh = json.loads(cli(*base, "--out", str(tmp_path / "fresh"), "--cache", str(tmp_path / "fresh.sqlite")).stdout)
    assert fresh["cache_hits"] == 0
    assert _without_timing(shard) == _without_timing(tmp_path / "fresh" / "shard-00000-of-00001.jsonl")
    repaid = paid_before_kill + (resumed["calls"] - resumed["cache_hits"]) - fresh["calls"]
    assert 0 <= repaid <= 2  # at most the calls in flight at the kill (one per lane) were paid twice


@pytest.mark.slow
def test_progress_bar_reports_docs_and_tokens_per_second(llama_server, tmp_path):
    argv = [
        "--method",
        "template",
        "--endpoint",
        llama_server.url,
        "--out",
        str(tmp_path),
        "--num-docs",
        "1",
    ]
    done = cli(*argv, "--set", "expert_sampling.max_tokens=16")
    assert "1/1" in done.stderr and "calls 1 (+0 running)" in done.stderr and "tok/s" in done.stderr
    # the closing lines say what was made and where
    assert "Made 1 template documents" in done.stderr and str(tmp_path) in done.stderr


@pytest.mark.slow
def test_progress_shows_calls_in_flight_before_the_first_document(llama_server, tmp_path):
    from tests.support.fault_proxy import FaultProxy

    # the reachability probe (a TCP connect) and the server's description (GETs) pass at once; the call is slow
    with FaultProxy(llama_server.url, [("slow", 1.5)]) as proxy:
        done = cli(
            "--method",
            "template",
            "--endpoint",
            proxy.url,
            "--out",
            str(tmp_path),
            "--num-docs",
            "1",
            "--set",
            "expert_sampling.max_tokens=8",
            "--set",
            "conductor.retry.max_attempts=1",
        )
    before_first = done.stderr.split("1/1")[0]
    assert "calls 0 (+1 running)" in before_first, done.stderr[-2000:]


def test_a_closed_port_fails_within_seconds_with_one_line(tmp_path, capsys):
    from tests.support.fault_proxy import free_port

    started = time.monotonic()
    code = main(
        [
            "generate",
            "--method",
            "template",
            "--num-docs",
            "1",
            "--no-progress",
            "--out",
            str(tmp_path),
            "--endpoint",
            f"http://127.0.0.1:{free_port()}",
            "--set",
            "conductor.retry.startup_timeout_s=0",  # not waiting for a server that may be loading
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and time.monotonic() - started < 15
    assert len(err) == 1 and "no endpoint accepts connections" in err[0] and "start the server" in err[0]
    assert "retry.startup_timeout_s" in err[0]


def test_shard_out_of_range_names_the_fix():
    with pytest.raises(ConfigError, match=r"--shard 3/2: i must be in 0\.\.N-1"):
        config_of(["--num-docs", "2", "--shard", "3/2"])


def test_help_lists_the_examples(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    out = capsys.readouterr().out
    assert "--shard" in out and "metasynth generate --config run.yaml --shard 3/8" in out


def test_partial_sampling_override_keeps_the_other_defaults():
    config = config_of(["--num-docs", "1", "--set", "expert_sampling.max_tokens=24"])
    assert (config.expert_sampling.max_tokens, config.expert_sampling.temperature) == (24, 0.9)
    assert config.conductor_sampling.max_tokens == 300


def test_help_keeps_the_backslash_continuation_of_its_examples(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    out = capsys.readouterr().out
    assert "--endpoint http://tgi-0:8080 \\\n" in out and "http://tgi-0:8080         --endpoint" not in out


def test_the_bar_gives_an_eta_from_calls_before_the_first_document():
    from metasynth_hf.llm.accounting import UsageMeter
    from metasynth_hf.llm.base import Reply, Usage
    from metasynth_hf.progress import GenerationProgress

    config = config_of(["--num-docs", "4", "--max-turns", "5"])  # ~11 calls per document at first
    bar = GenerationProgress(config)
    meter = UsageMeter()
    meter.started -= 10.0  # 10 s in, 11 calls answered: ~1.1 calls/s
    for _ in range(11):
        meter.record("conductor", Reply(text="x", usage=Usage(5, 5), model="m"))
    eta = bar.eta_s(meter)
    assert eta is not None and 25 <= eta <= 35  # 44 calls to make, 11 made, at 1.1 calls/s = 30 s
    bar.show(meter)
    assert "eta ~30 s from calls" in bar.bar.postfix
    bar.close()


def test_the_closing_lines_report_how_much_the_conductor_decided():
    from metasynth_hf.commands.generate import closing_summary

    config = config_of(["--num-docs", "2", "--out", "corpus/x"])
    agency = {
        "documents": 2,
        "conductor_turns": 3,
        "scaffold_turns": 7,
        "conductor_instructions": 2,
        "expert_calls": 12,
        "final_by": {"max_turns": 2},
        "scaffold_reasons": {"unparseable": 7},
        "conductor_turn_share": 0.3,
        "conductor_instruction_share": 0.1667,
    }
    summary = {
        "documents": 2,
        "tokens": 900,
        "resumed": 0,
        "wall_time_s": 75.0,
        "calls": 30,
        "cache_hits": 0,
        "agency": agency,
    }
    text = closing_summary(config, summary, "corpus/x/data/*.parquet", stats=True)
    assert "Made 2 metasynth documents (900 tokens by `tokenizer: approx`, chars/4) in 1 min 15 s" in text
    assert "the conductor decided 30% of its turns (3 of 10)" in text
    assert "instructions of 17% of expert calls (2 of 12)" in text and "ended 0 of 2 loops itself" in text
    assert "Next: metasynth stats corpus/x" in text
    template = closing_summary(
        config_of(["--method", "template", "--num-docs", "1"]), {**summary, "agency": {}}, None, stats=False
    )
    assert "conductor" not in template.split("Next:")[0]
