"""The one-document loop on a scripted model: protocol, fallbacks, stop rules, provenance."""

from __future__ import annotations

import json

import pytest

from metasynth_hf.corpus.records import RECORD_FIELDS
from metasynth_hf.generation.conductor import NoFinalError
from metasynth_hf.generation.prompts import PromptSet
from tests.generation.fakes import ScriptedModel, conductor_turns, default_answer, prose
from tests.generation.helpers import read_records, run

DEFAULT_EXPERTS = {
    "seed_keywords",
    "domain_expert",
    "content_analyst",
    "summarizer",
    "topic_labeler",
}


def answering(**overrides):
    """default_answer with some roles replaced by functions of (messages, params)."""

    def answer(role, messages, params):
        if role in overrides:
            return overrides[role](messages, params)
        return default_answer(role, messages, params)

    return answer


def test_a_conductor_that_follows_the_protocol(tmp_path):
    summary, records = run(tmp_path, num_docs=2)
    assert summary.statuses == {"final": 2} and summary.fallbacks == 0
    # 4 calls + FINAL were the conductor's; 6 expert calls, of which summary and label are bookkeeping
    assert records[0]["prov"]["agency"] == {
        "conductor_turns": 5,
        "scaffold_turns": 0,
        "scaffold_reasons": {},
        "conductor_instructions": 4,
        "expert_calls": 6,
        "final_by": "conductor",
    }
    assert summary.agency["conductor_turn_share"] == 1.0
    assert summary.agency["conductor_instruction_share"] == round(8 / 12, 4)
    assert summary.agency["final_by"] == {"conductor": 2} and summary.agency["documents"] == 2
    record = records[0]
    assert set(RECORD_FIELDS) <= set(record)
    prov = record["prov"]
    assert prov["experts_called"] == [
        "seed_keywords",
        "domain_expert",
        "content_analyst",
        "domain_expert",
        "summarizer",
        "topic_labeler",
    ]
    assert prov["loop_turns"] == 5 and prov["fallbacks"] == []
    assert set(prov["tokens_by_role"]) == DEFAULT_EXPERTS | {"conductor"}
    for key in ("models", "prompt_set", "config_fingerprint", "wall_time_s", "instance", "seeds"):
        assert prov[key], key
    assert record["topic"] and prov["instance"]["summary"] and prov["instance"]["category"]
    assert record["num_tokens"] == (len(record["text"]) + 3) // 4
    assert record["instruction"] is None and record["response"] is None
    # the instruction the conductor wrote reached the expert, with only the shared artifacts
    turn2 = prov["turns"][1]
    assert turn2["instructions"] == "Write it." and turn2["share"] == ["seeds", "keywords"]


def test_experts_see_only_what_was_shared(tmp_path):
    model = ScriptedModel()
    run(tmp_path, model, num_docs=1)
    expert_prompts = [m[1]["content"] for role, m, _ in model.calls if role == "domain_expert"]
    assert "=== seeds ===" in expert_prompts[0] and "=== draft ===" not in expert_prompts[0]
    assert "=== draft ===" in expert_prompts[1] and "=== seeds ===" not in expert_prompts[1]


def test_garbage_conductor_reasks_once_then_follows_the_fixed_order(tmp_path):
    model = ScriptedModel(answering(conductor=lambda m, p: "I like turtles"))
    summary, records = run(tmp_path, model, num_docs=2)
    prov = records[0]["prov"]
    assert prov["status"] == "final_fallback"
    assert prov["experts_called"] == [
        "seed_keywords",
        "domain_expert",
        "content_analyst",
        "domain_expert",
        "summarizer",
        "topic_labeler",
    ]
    assert len(prov["fallbacks"]) == 5  # four fixed steps, then the fixed plan's FINAL
    assert all("unparseable twice" in f["reason"] for f in prov["fallbacks"])
    assert all(f["raw"] == "I like turtles" for f in prov["fallbacks"])
    reasks = [p for role, m, p in model.calls if role == "conductor" and "could not be used:" in m[-1]["content"]]
    assert len(reasks) == 10  # one re-ask per failed turn, two documents
    assert summary.fallbacks == 10 and records[0]["text"]
    agency = prov["agency"]
    assert agency["conductor_turns"] == 0 and agency["scaffold_turns"] == 5
    assert agency["scaffold_reasons"] == {"unparseable": 5} and agency["final_by"] == "scaffold"
    assert agency["conductor_instructions"] == 0
    assert summary.agency["conductor_turn_share"] == 0.0 and summary.agency["final_by"] == {"scaffold": 2}


PLACEHOLDER = PromptSet().placeholder


@pytest.mark.parametrize("instructions", [PLACEHOLDER, PLACEHOLDER.strip("<>").capitalize() + ".", "", "  "])
def test_placeholder_or_empty_instructions_are_reasked_and_never_credited(tmp_path, instructions):
    def conductor(messages, params):
        if "could not be used:" in messages[-1]["content"]:
            assert '"instructions"' in messages[-1]["content"]  # the re-ask says what was wrong
        turn = conductor_turns(messages)
        if turn >= 4:
            return json.dumps({"action": "final"})
        expert = ["seed_keywords", "domain_expert", "content_analyst", "domain_expert"][turn]
        return json.dumps({"action": "call_expert", "expert": expert, "instructions": instructions})

    _, records = run(tmp_path, ScriptedModel(answering(conductor=conductor)), num_docs=1)
    agency = records[0]["prov"]["agency"]
    assert agency["conductor_instructions"] == 0
    assert agency["scaffold_reasons"] == {"unusable_instructions": agency["scaffold_turns"]}
    assert agency["scaffold_turns"] >= 3  # every call the conductor asked for was replaced
    assert all("unusable instructions twice" in f["reason"] for f in records[0]["prov"]["fallbacks"])
    # the expert calls ran on the fixed plan's instructions, and provenance says so
    assert {t["source"] for t in records[0]["prov"]["turns"] if t["action"] == "call_expert"} == {
        "fallback",
        "bookkeeping",
    }


def test_default_instructions_copied_are_not_the_conductors(tmp_path):
    from metasynth_hf.generation.agency import unusable_instructions

    default, placeholder = "Write the document for the seeds.", "<your instructions here>"
    assert unusable_instructions("write the document for the seeds", default, placeholder)
    assert unusable_instructions("Your instructions here!", default, placeholder)
    assert unusable_instructions("Write the document for the seeds; avoid jargon.", default, placeholder) is None
    assert unusable_instructions("Write it.", default, placeholder) is None  # short is fine when it is its own


def test_a_reask_that_works_is_recorded(tmp_path):
    def conductor(messages, params):
        if "could not be used:" in messages[-1]["content"]:
            return default_answer("conductor", messages[:-2], params)
        return "{not json" if conductor_turns(messages) == 0 else default_answer("conductor", messages, params)

    _, records = run(tmp_path, ScriptedModel(answering(conductor=conductor)), num_docs=1)
    prov = records[0]["prov"]
    assert prov["status"] == "final"
    assert prov["fallbacks"] == [] and [r["turn"] for r in prov["reasks"]] == [1]
    # a successful re-ask is the conductor's turn, not a fallback
    assert prov["agency"]["scaffold_turns"] == 0 and prov["agency"]["conductor_turns"] == 5


def test_final_before_required_experts_runs_them(tmp_path):
    def conductor(messages, params):
        return json.dumps({"action": "final", "document": "too short"})

    _, records = run(tmp_path, ScriptedModel(answering(conductor=conductor)), num_docs=1)
    prov = records[0]["prov"]
    assert prov["experts_called"][:3] == ["seed_keywords", "domain_expert", "content_analyst"]
    assert prov["status"] == "final" and prov["final_source"] == "draft"
    assert any("FINAL before seed_keywords" in f["reason"] for f in prov["fallbacks"])
    agency = prov["agency"]
    assert agency["scaffold_reasons"]["early_final"] == agency["scaffold_turns"] >= 3
    assert agency["final_by"] == "conductor" and agency["conductor_turns"] == 1


def test_conductor_document_is_used_when_it_is_real(tmp_path):
    own = prose(7, 80)

    def conductor(messages, params):
        if conductor_turns(messages) < 3:
            return default_answer("conductor", messages, params)
        return json.dumps({"action": "final", "document": own})

    _, records = run(tmp_path, ScriptedModel(answering(conductor=conductor)), num_docs=1)
    assert records[0]["text"] == own and records[0]["prov"]["final_source"] == "conductor"


def never_final(messages, params):
    turn = conductor_turns(messages)
    expert = ["seed_keywords", "domain_expert", "content_analyst"][turn % 3]
    return json.dumps({"action": "call_expert", "expert": expert, "instructions": f"More, take {turn}."})


def test_no_final_within_max_turns_keeps_the_best_draft(tmp_path):
    model = ScriptedModel(answering(conductor=never_final))
    _, records = run(tmp_path, model, num_docs=1, stop={"max_turns": 4})
    prov = records[0]["prov"]
    assert prov["status"] == "max_turns" and prov["final_source"] == "draft"
    assert prov["loop_turns"] == 4 and records[0]["text"]
    assert prov["agency"]["final_by"] == "max_turns"
    assert prov["agency"]["conductor_turns"] + prov["agency"]["scaffold_turns"] == 4


def test_a_repeated_turn_is_replaced_by_the_fixed_plan(tmp_path):
    def conductor(messages, params):
        return json.dumps({"action": "call_expert", "expert": "summarizer", "instructions": "Again."})

    _, records = run(tmp_path, ScriptedModel(answering(conductor=conductor)), num_docs=1)
    prov = records[0]["prov"]
    repeats = [f for f in prov["fallbacks"] if f["reason"] == "repeated the previous turn"]
    assert [f["turn"] for f in repeats] == [2, 4, 6, 8] and '"Again."' in repeats[0]["raw"]
    assert prov["experts_called"][:8] == [
        "summarizer",
        "seed_keywords",
        "summarizer",
        "domain_expert",
        "summarizer",
        "content_analyst",
        "summarizer",
        "domain_expert",
    ]
    assert prov["status"] == "max_turns"


def test_last_turns_are_kept_for_the_required_experts(tmp_path):
    def conductor(messages, params):
        turn = conductor_turns(messages)
        return json.dumps({"action": "call_expert", "expert": "seed_keywords", "instructions": f"Try {turn}."})

    _, records = run(tmp_path, ScriptedModel(answering(conductor=conductor)), num_docs=1, stop={"max_turns": 4})
    prov = records[0]["prov"]
    assert prov["experts_called"][:4] == [
        "seed_keywords",
        "seed_keywords",
        "domain_expert",
        "content_analyst",
    ]
    reserved = [f for f in prov["fallbacks"] if "required step" in f["reason"]]
    assert [f["action"] for f in reserved] == ["domain_expert", "content_analyst"]
    assert prov["status"] == "max_turns" and records[0]["text"]


def test_strict_final_raises_but_keeps_finished_documents(tmp_path):
    def conductor(messages, params):
        if "-0000002" in messages[1]["content"]:
            return never_final(messages, params)
        return default_answer("conductor", messages, params)

    model = ScriptedModel(answering(conductor=conductor))
    with pytest.raises(NoFinalError, match="0000002.*max_turns=5.*strict_final=false"):
        run(tmp_path, model, num_docs=4, lanes=1, stop={"max_turns": 5, "strict_final": True})
    assert [r["id"][-2:] for r in read_records(tmp_path)] == ["00", "01"]
    summary = json.loads((tmp_path / "summary-00000-of-00001.json").read_text())
    assert summary["error"].startswith("NoFinalError") and summary["documents"] == 2
    # the fix the message names works, and resumes from the kept documents
    summary, records = run(tmp_path, model, num_docs=4, lanes=1, stop={"max_turns": 5})
    assert summary.resumed == 2 and summary.generated == 2 and len(records) == 4


def test_empty_and_looping_experts_never_crash(tmp_path):
    def writer(messages, params):
        return "" if params.seed % 2 else "loop loop loop loop " * 50

    model = ScriptedModel(answering(domain_expert=writer, seed_keywords=lambda m, p: "", summarizer=lambda m, p: ""))
    summary, records = run(tmp_path, model, num_docs=2)
    assert summary.documents == 2
    for record in records:
        assert len(record["text"].split()) < 20  # the loop was collapsed, not kept 200 words long
        assert record["prov"]["instance"]["summary"] == record["text"][:300].strip() or record["text"] == ""


def test_token_budget_stops_the_loop(tmp_path):
    _, records = run(tmp_path, num_docs=1, stop={"max_doc_tokens": 60})
    prov = records[0]["prov"]
    assert prov["status"] == "token_budget" and records[0]["text"]
    assert "summarizer" in prov["experts_called"]  # bookkeeping still labels the document


def test_memory_budget_summarises_with_the_summarizer(tmp_path):
    model = ScriptedModel(answering(conductor=never_final))
    _, records = run(tmp_path, model, num_docs=1, memory={"max_tokens": 900}, stop={"max_turns": 6})
    memory = records[0]["prov"]["memory"]
    assert memory["condensed_turns"] >= 1 and memory["summary_calls"] >= 1
    assert model.roles["summarizer"] == memory["summary_calls"] + 1  # + the document's summary
    conductor_views = [m for role, m, _ in model.calls if role == "conductor"]
    assert "older turns were condensed" in conductor_views[-1][1]["content"]


def test_custom_expert_set(tmp_path):
    _, records = run(
        tmp_path,
        num_docs=1,
        expert_set=["domain_expert", "summarizer"],
        required_experts=["domain_expert"],
    )
    prov = records[0]["prov"]
    assert set(prov["experts_called"]) <= {"domain_expert", "summarizer"}
    assert prov["instance"]["category"] == "general"  # no topic labeler configured


def test_copying_the_scaffolds_own_turn_is_not_the_conductors(tmp_path):
    """What SmolLM2 does: it imitates the fixed-plan turn it sees in its history."""

    def conductor(messages, params):
        if conductor_turns(messages) == 0:
            return "no json here"
        return messages[-2]["content"]  # the previous (scaffold-written) turn, verbatim

    _, records = run(tmp_path, ScriptedModel(answering(conductor=conductor)), num_docs=1)
    prov = records[0]["prov"]
    assert prov["experts_called"][:4] == [
        "seed_keywords",
        "domain_expert",
        "content_analyst",
        "domain_expert",
    ]
    # a copy of the scaffold's turn carries the expert's default instructions: not the conductor's
    copies = [f for f in prov["fallbacks"] if "repeats the expert's default instructions" in f["reason"]]
    assert len(copies) == 4
    assert prov["agency"]["conductor_instructions"] == 0
    assert prov["agency"]["scaffold_reasons"]["unusable_instructions"] == 4
