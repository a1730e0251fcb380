"""The generation driver: sliding-window conditioning, resume, sharding, guards, summary."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from metasynth_hf.config import RunConfig
from metasynth_hf.corpus.store import shard_path
from metasynth_hf.errors import ConfigError
from metasynth_hf.generation.engine import generate
from metasynth_hf.llm.cache import CachedChatModel, ResponseCache
from tests.generation.fakes import AnyRole, ScriptedModel
from tests.generation.helpers import make_config, read_records, run, shard_bytes


def jitter(seed: int):
    """Random call latencies: documents finish out of order."""
    rng = random.Random(seed)
    return lambda role, params: rng.random() * 0.004


def test_doc_i_sees_exactly_the_docs_up_to_i_minus_lanes(tmp_path):
    _, records = run(tmp_path, ScriptedModel(delay=jitter(1)), num_docs=8, lanes=3)
    for i, record in enumerate(records):
        assert record["prov"]["conditioned_on"]["visible"] == max(0, i - 3 + 1)
        shown = record["prov"]["conditioned_on"]["shown"]
        assert all(int(doc_id[-7:]) <= i - 3 for doc_id in shown)


def test_output_does_not_depend_on_timing(tmp_path):
    run(tmp_path / "a", ScriptedModel(delay=jitter(1)), num_docs=7, lanes=3)
    run(tmp_path / "b", ScriptedModel(delay=jitter(2)), num_docs=7, lanes=3)
    assert shard_bytes(tmp_path / "a") == shard_bytes(tmp_path / "b")


def test_different_seed_gives_different_output(tmp_path):
    _, a = run(tmp_path / "a", num_docs=2, seed=0)
    _, b = run(tmp_path / "b", num_docs=2, seed=1)
    assert [r["text"] for r in a] != [r["text"] for r in b]
    assert a[0]["id"].endswith("s0-0000000") and b[0]["id"].endswith("s1-0000000")


def test_rerun_from_the_cache_is_byte_identical_and_free(tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    try:
        first = ScriptedModel()
        config = make_config(tmp_path / "a", num_docs=3)
        asyncio.run(generate(config, models=AnyRole(first, wrap=lambda m: CachedChatModel(m, cache))))
        second = ScriptedModel()
        config = make_config(tmp_path / "b", num_docs=3)
        asyncio.run(generate(config, models=AnyRole(second, wrap=lambda m: CachedChatModel(m, cache))))
    finally:
        cache.close()
    assert first.calls and not second.calls  # every call answered by the cache
    assert shard_bytes(tmp_path / "a") == shard_bytes(tmp_path / "b")


def test_resume_extends_without_regenerating(tmp_path):
    run(tmp_path / "full", num_docs=5)
    run(tmp_path / "part", num_docs=2)
    model = ScriptedModel()
    summary, records = run(tmp_path / "part", model, num_docs=5)
    assert (summary.resumed, summary.generated, summary.documents) == (2, 3, 5)
    assert shard_bytes(tmp_path / "part") == shard_bytes(tmp_path / "full")
    new_docs = {m[1]["content"].split()[2] for role, m, _ in model.calls if role == "conductor"}
    assert new_docs == {
        "finance-metasynth-s0-0000002",
        "finance-metasynth-s0-0000003",
        "finance-metasynth-s0-0000004",
    }


def test_torn_last_line_is_dropped_and_regenerated(tmp_path):
    run(tmp_path / "full", num_docs=3)
    run(tmp_path / "torn", num_docs=3)
    path = shard_path(tmp_path / "torn", 0, 1)
    data = path.read_bytes()
    cut = data.rfind(b"\n", 0, len(data) - 1) + 40
    path.write_bytes(data[:cut])  # kill -9 in the middle of writing the last line
    summary, _ = run(tmp_path / "torn", num_docs=3)
    assert (summary.resumed, summary.generated) == (2, 1)
    assert shard_bytes(tmp_path / "torn") == shard_bytes(tmp_path / "full")


def test_a_corrupt_middle_line_is_a_clear_error(tmp_path):
    run(tmp_path, num_docs=3)
    path = shard_path(tmp_path, 0, 1)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "garbage\n" + lines[2])
    with pytest.raises(ConfigError, match=r"shard-00000-of-00001.jsonl:2: not a valid record"):
        run(tmp_path, num_docs=3)


def test_a_different_config_refuses_the_output_dir(tmp_path):
    run(tmp_path, num_docs=2)
    model = ScriptedModel()
    with pytest.raises(ConfigError, match="different run.*target_words"):
        run(tmp_path, model, num_docs=2, target_words=123)
    assert not model.calls
    # settings that only change how much is made, or how it is served, are fine
    summary, _ = run(tmp_path, num_docs=3, stop={"strict_final": True})
    assert summary.generated == 1


def test_shards_partition_the_run(tmp_path):
    for k in range(3):
        run(tmp_path, num_docs=8, shard_index=k, num_shards=3)
    records = read_records(tmp_path)
    ids = [r["id"] for r in records]
    assert len(ids) == 8 == len(set(ids))
    assert sorted(int(i[-7:]) for i in ids) == list(range(8))
    for r in records:
        assert int(r["id"][-7:]) % 3 == int(r["prov"]["shard"].split("/")[0])
    again = tmp_path / "again"
    run(again, num_docs=8, shard_index=1, num_shards=3)
    assert shard_path(again, 1, 3).read_bytes() == shard_path(tmp_path, 1, 3).read_bytes()


def test_target_tokens_stops_at_the_first_doc_that_reaches_it(tmp_path):
    summary, records = run(tmp_path, num_docs=None, target_tokens=150, lanes=3)
    assert summary.stopped_by == "target_tokens"
    totals = [sum(r["num_tokens"] for r in records[: i + 1]) for i in range(len(records))]
    assert totals[-1] >= 150 and (len(totals) == 1 or totals[-2] < 150)


def test_summary_file(tmp_path):
    run(tmp_path, num_docs=2)
    summary = json.loads((tmp_path / "summary-00000-of-00001.json").read_text())
    assert summary["documents"] == 2 and summary["tokens"] > 0 and summary["error"] is None
    assert summary["statuses"] == {"final": 2} and summary["wall_time_s"] > 0
    assert summary["by_role"]["conductor"]["calls"] == 10 and summary["calls"] == 22
    assert (tmp_path / "fingerprint.json").is_file()


@pytest.mark.parametrize(
    "fields, fragment",
    [
        ({"domain": "astrology"}, "unknown domain 'astrology'; known domains"),
        ({"method": "magic"}, "method"),
        ({"method": "template_icl"}, "method template_icl .* needs real documents: set seeds.kind: topic_aware"),
        ({"method": "instruct"}, "instruct.source"),
        ({"expert_set": ["domain_expert", "astrologer"]}, "expert 'astrologer' has no prompt file"),
        ({"required_experts": ["summarizer"], "expert_set": ["domain_expert"]}, "required_experts"),
        ({"num_docs": None}, "num_docs, target_tokens or both"),
        ({"shard_index": 2, "num_shards": 2}, "shard_index"),
        ({"lanes": 0}, "lanes"),
        (
            {"domain": {"name": "law", "description": "Law.", "keywords": "/nonexistent.txt"}},
            "does not exist",
        ),
    ],
)
def test_bad_input_is_refused_before_any_call(tmp_path, fields, fragment):
    model = ScriptedModel()
    with pytest.raises(ConfigError, match=fragment):
        from metasynth_hf.config_io import load_config

        config = load_config(RunConfig, None, {"output_dir": str(tmp_path), "num_docs": 2, **fields})
        asyncio.run(generate(config, models=AnyRole(model)))
    assert not model.calls


def test_empty_keyword_file_is_refused(tmp_path):
    keywords = tmp_path / "law.txt"
    keywords.write_text("# only a comment\n\n")
    with pytest.raises(ConfigError, match="holds no keywords"):
        run(
            tmp_path / "out",
            domain={"name": "law", "description": "Law.", "keywords": str(keywords)},
        )


def test_custom_domain(tmp_path):
    keywords = tmp_path / "law.txt"
    keywords.write_text("tort\ncontract\nestoppel\nprecedent\n")
    _, records = run(
        tmp_path / "out",
        num_docs=1,
        domain={"name": "law", "description": "Law.", "keywords": str(keywords)},
    )
    assert records[0]["domain"] == "law" and records[0]["id"].startswith("law-metasynth-")
    assert set(records[0]["seed"]) <= {"tort", "contract", "estoppel", "precedent"}


def test_iter_records_reads_every_shard_and_skips_a_torn_line(tmp_path):
    from metasynth_hf.corpus.store import iter_records

    for k in range(2):
        run(tmp_path, num_docs=4, shard_index=k, num_shards=2)
    with shard_path(tmp_path, 1, 2).open("a") as fh:
        fh.write('{"id": "torn')
    ids = [record.id[-2:] for record in iter_records(tmp_path)]
    assert ids == ["00", "02", "01", "03"]


def test_seed_corpus_without_a_text_column_is_refused_before_any_call(tmp_path):
    corpus = tmp_path / "real.jsonl"
    corpus.write_text('{"body": "Banks lend."}\n{"body": "Rates rise."}\n')
    model = ScriptedModel()
    seeds = {"kind": "topic_aware", "corpus": str(corpus)}
    with pytest.raises(ConfigError, match="no column 'text'.*body"):
        run(tmp_path / "out", model, method="template_icl", seeds=seeds)
    assert not model.calls


def test_the_config_docstring_example_is_valid(tmp_path):
    import yaml

    import metasynth_hf.config as config_module

    example = config_module.__doc__.split("```yaml")[1].split("```")[0]
    config = RunConfig.model_validate(yaml.safe_load(example))
    assert config.num_docs == 1000 and len(config.conductor.endpoints) == 2
