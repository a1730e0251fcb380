"""Adding a method is one producer class and one registry line: a throwaway method runs
through the config, the preflight, the engine and the shard files with nothing else touched."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from metasynth_hf.config import RunConfig
from metasynth_hf.corpus.records import InstanceEntry, Record, dump_provenance
from metasynth_hf.generation.context import Producer
from metasynth_hf.generation.methods import METHODS, MethodSpec
from metasynth_hf.llm.base import SamplingParams
from tests.generation.fakes import ScriptedModel
from tests.generation.helpers import run


class ShoutProducer(Producer):
    """A throwaway method: one call on the `writer` role, its reply upper-cased."""

    roles = ("writer",)

    def __init__(self, plan):
        self.plan = plan

    async def produce(self, ctx, index, seeds, visible):
        prompt = [{"role": "user", "content": "Write about " + ", ".join(seeds.keywords)}]
        reply = await ctx.models["writer"].chat(prompt, SamplingParams(seed=index))
        text = reply.text.upper()
        entry = InstanceEntry(index, ctx.config.doc_id(index), "", "", text[:40], tuple(seeds.ids))
        provenance = dump_provenance({**ctx.base_provenance(index, visible), "status": "final"})
        record = Record(
            entry.id, text, ctx.domain.name, ctx.config.method, list(seeds.ids), "", ctx.count_tokens(text), provenance
        )
        return record, entry


def test_a_method_is_one_class_and_one_registry_line(tmp_path, monkeypatch):
    monkeypatch.setitem(METHODS, "shout", MethodSpec(f"{__name__}:ShoutProducer", "upper-cased template"))
    model = ScriptedModel()
    summary, records = run(tmp_path, model, method="shout", num_docs=3)
    assert summary.documents == 3 and model.roles == {"writer": 3}
    assert [r["method"] for r in records] == ["shout"] * 3
    assert all(r["text"] == r["text"].upper() and r["text"] for r in records)
    assert records[0]["id"] == "finance-shout-s0-0000000"


def test_an_unknown_method_names_the_choices():
    with pytest.raises(ValidationError, match="method: unknown 'shout'; choose one of metasynth, template"):
        RunConfig.model_validate({"num_docs": 1, "method": "shout"})


def test_a_new_method_describes_itself_on_the_card(monkeypatch):
    """The card's "what ran" paragraph comes from the method (its summary by default), so a new
    method's card never borrows another method's prose."""
    from metasynth_hf.card import method_text

    monkeypatch.setitem(METHODS, "shout", MethodSpec(f"{__name__}:ShoutProducer", "upper-cased template"))
    text = method_text({"method": "shout", "domain": "finance"})
    assert text == "This corpus was generated with metasynth-hf, method `shout`: upper-cased template."
    assert "conductor" not in method_text({"method": "template", "domain": "finance"}).split("No conductor")[0]
