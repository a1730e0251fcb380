"""The three template baselines: prompts, conditioning window, shared schema."""

from __future__ import annotations

import pytest

from metasynth_hf.corpus.records import RECORD_FIELDS
from metasynth_hf.seeds.types import SeedDocument, SeedSet
from tests.generation.fakes import ScriptedModel
from tests.generation.helpers import read_records, run


class DocSeeder:
    """Two real-looking seed documents per block of two docs (what topic-aware seeds give)."""

    def seeds_for(self, doc_index, history):
        block = doc_index // 2
        docs = tuple(
            SeedDocument(
                f"real-{block}-{j}",
                f"Real document {block}-{j} about bank capital.",
                f"topic {block}",
            )
            for j in range(3)
        )
        return SeedSet(keywords=("capital",), documents=docs)

    def expand(self, new_keywords, *, source=None):
        raise AssertionError("baselines expand no keywords")


def prompts_of(model: ScriptedModel) -> list[str]:
    return [m[0]["content"] for role, m, _ in model.calls]


def test_template(tmp_path):
    model = ScriptedModel()
    summary, records = run(tmp_path, model, method="template", num_docs=3)
    assert summary.documents == 3 and len(model.calls) == 3
    assert set(RECORD_FIELDS) <= set(records[0])
    record = records[0]
    assert record["method"] == "template" and record["id"] == "finance-template-s0-0000000"
    assert record["seed"] and all(k in prompts_of(model)[0] for k in record["seed"])
    assert record["prov"]["template"] == "baselines/template"
    assert record["prov"]["tokens_by_role"]["writer"]["calls"] == 1
    assert "earlier" not in prompts_of(model)[0]


def test_template_prior_shows_only_the_window(tmp_path):
    model = ScriptedModel()
    _, records = run(tmp_path, model, method="template_prior", num_docs=5, lanes=2)
    by_doc = {p.split("Keywords: ")[1].split(".")[0]: p for p in prompts_of(model)}
    for i, record in enumerate(records):
        prompt = by_doc[", ".join(record["seed"])]
        shown = record["prov"]["conditioned_on"]["prior_shown"]
        assert shown == min(3, max(0, i - 1))  # docs <= i - 2, at most prior_docs=3
        if shown:
            assert records[i - 2]["text"][:80] in prompt  # the latest visible document
            assert records[i - 1]["text"][:80] not in prompt  # still in flight: not visible


def test_template_icl_varies_real_exemplars(tmp_path):
    model = ScriptedModel()
    fields = {"method": "template_icl", "seeds": {"kind": "topic_aware", "corpus": "unused.jsonl"}}
    _, records = run(tmp_path, model, seeder=DocSeeder(), num_docs=4, **fields)
    prompts = prompts_of(model)
    assert "Real document 0-0" in prompts[0] and "Real document 0-2" not in prompts[0]  # exemplars=2
    assert "Real document 1-0" in prompts[2]
    assert records[0]["seed"] == ["real-0-0", "real-0-1", "real-0-2"]
    assert records[0]["topic"] == "topic 0"


def test_a_degenerate_answer_is_asked_again_once(tmp_path):
    def answer(role, messages, params):
        return "" if len([1 for r, _, _ in model.calls if r == "writer"]) == 1 else "word " * 3

    model = ScriptedModel(answer)
    summary, records = run(tmp_path, model, method="template", num_docs=1)
    assert len(model.calls) == 2  # one retry, then the record is written anyway
    assert records[0]["prov"]["fallbacks"][0]["action"] == "retry"
    assert summary.documents == 1


def test_plain_template_starts_a_document_whenever_a_lane_frees(tmp_path):
    """`template` reads no history: a slow first document does not hold the other lanes back
    (the window would start document 2 only once document 0 is published)."""
    started: list[int] = []

    def delay(role, params):
        started.append(len(started))
        return 0.3 if len(started) == 1 else 0.0

    model = ScriptedModel(delay=delay)
    _, records = run(tmp_path / "free", model, method="template", num_docs=6, lanes=2)
    first_prompt = prompts_of(model).index(next(p for p in prompts_of(model) if records[0]["seed"][0] in p))
    assert [r["prov"]["doc_index"] for r in records] == list(range(6))  # still published in order
    assert first_prompt == 5  # every other document finished while document 0 was slow
    assert all(r["prov"]["conditioned_on"]["visible"] == 0 for r in records)  # it conditions on nothing

    started.clear()
    model = ScriptedModel(delay=delay)
    _, records = run(tmp_path / "window", model, method="template_prior", num_docs=6, lanes=2)
    first_prompt = prompts_of(model).index(next(p for p in prompts_of(model) if records[0]["seed"][0] in p))
    assert first_prompt <= 1  # template_prior keeps the window: document 2 waits for document 0


def test_plain_template_output_does_not_depend_on_lanes(tmp_path):
    """Lanes only change how many calls overlap: every record is the same but for the config
    fingerprint (lanes is part of the config)."""
    outputs = []
    for lanes in (1, 3, 8):
        _, records = run(tmp_path / f"l{lanes}", ScriptedModel(), method="template", num_docs=7, lanes=lanes)
        for record in records:
            del record["prov"]["config_fingerprint"], record["provenance"]
        outputs.append(records)
    assert outputs[0] == outputs[1] == outputs[2]


def test_a_seeding_error_in_the_window_free_mode_stops_the_run(tmp_path, monkeypatch):
    """Documents start from completion callbacks there: an error must still end the run (at that
    document, after the ones before it are written), never be lost with the run looking done."""
    from metasynth_hf.seeds.keyword import KeywordSeeder

    original = KeywordSeeder.seeds_for

    def seeds_for(self, doc_index, history):
        if doc_index == 4:
            raise RuntimeError("seed source went away")
        return original(self, doc_index, history)

    monkeypatch.setattr(KeywordSeeder, "seeds_for", seeds_for)
    with pytest.raises(RuntimeError, match="seed source went away"):
        run(tmp_path, ScriptedModel(), method="template", num_docs=8, lanes=2)
    assert [r["prov"]["doc_index"] for r in read_records(tmp_path)] == [0, 1, 2, 3]
