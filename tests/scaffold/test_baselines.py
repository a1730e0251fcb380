"""The three template baselines: prompts, conditioning window, shared schema."""

from __future__ import annotations

from metasynth_hf.scaffold.records import RECORD_FIELDS
from metasynth_hf.seeds.types import SeedDocument, SeedSet
from tests.scaffold.fakes import ScriptedModel
from tests.scaffold.helpers import run


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
