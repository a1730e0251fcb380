"""End to end on the embedded SmolLM2-135M model: every method, no crash on weak output.

SmolLM2-135M rarely writes a usable conductor turn, so these runs exercise the re-ask and
fixed-order fallbacks for real; fallbacks are counted (and allowed), crashes are not. Calls
are kept tiny (few tokens, 1-2 documents per method) so the module fits the CI budget.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from metasynth_hf.config import DEFAULT_EXPERTS, RunConfig
from metasynth_hf.generation.engine import generate
from metasynth_hf.generation.instance_table import HashingEmbedder
from metasynth_hf.llm.accounting import MeteredChatModel, UsageMeter
from metasynth_hf.llm.cache import CachedChatModel, ResponseCache
from tests.generation.helpers import read_records, shard_bytes

pytestmark = pytest.mark.slow
logger = logging.getLogger(__name__)

TINY = {
    "target_words": 40,
    "conductor_sampling": {"max_tokens": 28, "temperature": 0.7},
    "expert_sampling": {"max_tokens": 16, "temperature": 0.8},
    "stop": {"max_turns": 4},
    "instance_table": {"embedder": "hashing"},
}
PROVENANCE_KEYS = {
    "doc_index",
    "status",
    "experts_called",
    "turns",
    "fallbacks",
    "tokens_by_role",
    "models",
    "prompt_set",
    "config_fingerprint",
    "wall_time_s",
    "conditioned_on",
    "instance",
}


class Roles(dict):
    """What RoleModels builds (metered, cached), around the session's loaded model."""

    def __init__(self, backend, cache: ResponseCache):
        super().__init__()
        self.backend, self.cache, self.meter = backend, cache, UsageMeter()

    def __missing__(self, role):
        self[role] = MeteredChatModel(CachedChatModel(self.backend, self.cache), self.meter, role)
        return self[role]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("real")


@pytest.fixture(scope="module")
def cache(workdir):
    cache = ResponseCache(workdir / "cache.sqlite")
    yield cache
    cache.close()


def run(local_model, cache, out, seeder=None, **fields):
    config = RunConfig.model_validate({**TINY, "output_dir": str(out), **fields})
    models = Roles(local_model, cache)
    summary = asyncio.run(generate(config, models=models, seeder=seeder, meter=models.meter))
    return summary, read_records(out), models.meter


@pytest.fixture(scope="module")
def metasynth_run(local_model, cache, workdir):
    return run(local_model, cache, workdir / "metasynth", num_docs=2, lanes=2)


def test_metasynth_calls_every_expert_and_survives_the_small_model(metasynth_run):
    summary, records, meter = metasynth_run
    assert summary.documents == 2 and len(records) == 2
    called = {e for r in records for e in r["prov"]["experts_called"]}
    assert set(DEFAULT_EXPERTS) <= called
    for record in records:
        prov = record["prov"]
        assert set(prov) >= PROVENANCE_KEYS
        assert prov["status"] in {"final", "final_fallback", "max_turns", "token_budget", "truncated"}
        assert "SmolLM2-135M-Instruct" in prov["models"]["conductor"]
        assert prov["tokens_by_role"]["conductor"]["completion_tokens"] > 0
        assert record["text"].strip() and record["num_tokens"] > 0 and record["topic"]
        assert len(prov["experts_called"]) == sum(1 for t in prov["turns"] if t["action"] == "call_expert")
    assert summary.fallbacks == sum(len(r["prov"]["fallbacks"]) for r in records)
    # 16-token expert answers cannot hold a 40-word draft: llama.cpp says "length", and so do the records
    assert summary.statuses.get("truncated", 0) >= 1
    for record in records:
        if record["prov"]["status"] == "truncated":
            assert record["prov"]["agency"]["final_by"] in {"conductor", "scaffold", "max_turns", "token_budget"}
    assert meter.snapshot()["by_role"]["conductor"]["calls"] >= 4
    logger.warning(
        "SmolLM2 metasynth: %d fallbacks over 2 documents, statuses %s",
        summary.fallbacks,
        summary.statuses,
    )


def test_rerun_with_the_cache_is_byte_identical(metasynth_run, local_model, cache, workdir):
    summary, _, meter = run(local_model, cache, workdir / "metasynth-again", num_docs=2, lanes=2)
    total = meter.snapshot()["total"]
    assert total["calls"] == total["cache_hits"] > 0  # no call paid twice
    assert shard_bytes(workdir / "metasynth-again") == shard_bytes(workdir / "metasynth")


def test_two_fresh_runs_with_four_lanes_give_the_same_corpus(local_model, workdir):
    """Empty caches both times: every reply is computed again, four documents in flight share
    the engine's batches, and the corpora agree in everything but the measured wall time."""
    corpora = []
    for name in ("fresh-a", "fresh-b"):
        cache = ResponseCache(workdir / f"{name}.sqlite")
        try:
            summary, records, meter = run(local_model, cache, workdir / name, num_docs=4, lanes=4)
        finally:
            cache.close()
        assert meter.snapshot()["total"]["cache_hits"] == 0 and summary.documents == 4
        for record in records:
            record.pop("provenance")
            record["prov"].pop("wall_time_s")
        corpora.append(records)
    assert corpora[0] == corpora[1]


def small_corpus(path):
    texts = [
        "Banks hold capital buffers so that loan losses in a recession do not wipe out depositors.",
        "Central banks raise policy rates to cool inflation, which lifts mortgage and bond yields.",
        "A corporate bond's spread over treasuries compensates investors for default risk.",
        "Credit analysts read covenants and cash flow coverage before approving commercial loans.",
        "Insulin resistance precedes type 2 diabetes and raises cardiovascular risk in adults.",
        "Monoclonal antibodies bind a single epitope and are used against several cancers.",
        "Randomised controlled trials assign treatment by chance to remove selection bias.",
        "Vaccines train adaptive immunity by presenting antigens without causing disease.",
    ]
    path.write_text("\n".join(json.dumps({"id": f"real-{i}", "text": t}) for i, t in enumerate(texts)) + "\n")
    return path


def test_baselines_and_seed(local_model, cache, workdir):
    from metasynth_hf.seeds.topic_aware import TopicAwareConfig, TopicAwareSeeder

    for method, lanes in (("template", 2), ("template_prior", 1)):
        _, records, _ = run(local_model, cache, workdir / method, method=method, num_docs=2, lanes=lanes)
        assert [r["method"] for r in records] == [method] * 2 and all(r["text"] for r in records)
    prior = read_records(workdir / "template_prior")
    assert prior[1]["prov"]["conditioned_on"]["prior_shown"] == 1
    corpus = small_corpus(workdir / "real.jsonl")
    seeder = TopicAwareSeeder(
        str(corpus),
        TopicAwareConfig(id_column="id", min_chars=20, num_topics=2, refresh_every=1, k_min=2, k_max=2),
        seed=0,
        embedder=HashingEmbedder(),
    )
    fields = {"method": "template_icl", "seeds": {"kind": "topic_aware", "corpus": str(corpus)}}
    _, icl, _ = run(local_model, cache, workdir / "icl", seeder=seeder, num_docs=2, lanes=2, **fields)
    assert all(r["seed"][0].startswith("real-") and r["text"] for r in icl)
    _, other_seed, _ = run(local_model, cache, workdir / "seed1", method="template", num_docs=2, lanes=2, seed=1)
    template = read_records(workdir / "template")
    assert [r["text"] for r in other_seed] != [r["text"] for r in template]


def test_instruct_on_the_metasynth_output(metasynth_run, local_model, cache, workdir):
    # two turns for two required steps: the scaffold runs them (the instruct conductor's own
    # choices run on the scripted model in test_instruct.py; the loop code is the one above)
    fields = {
        "method": "instruct",
        "instruct": {"source": str(workdir / "metasynth"), "rounds": 0, "max_turns": 2},
    }
    summary, records, _ = run(local_model, cache, workdir / "instruct", num_docs=1, **fields)
    assert summary.documents == 1
    record = records[0]
    assert record["instruction"] and record["response"] and record["text"].startswith("Instruction:")
    assert record["seed"] == [read_records(workdir / "metasynth")[0]["id"]]
