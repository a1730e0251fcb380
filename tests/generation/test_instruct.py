"""MetaSynth-Instruct on a scripted model: evolution rounds, fallbacks, record shape."""

from __future__ import annotations

import json

from tests.generation.fakes import ScriptedModel, conductor_turns, default_answer
from tests.generation.helpers import run

PLAN = [
    {"action": "call_expert", "expert": "doc_transform", "instructions": "Extract.", "share": ["document"]},
    {"action": "call_expert", "expert": "question_editor", "instructions": "Write one.", "share": ["material"]},
    {"action": "call_expert", "expert": "complexity", "instructions": "Harder.", "share": ["instruction"]},
    {
        "action": "call_expert",
        "expert": "question_editor",
        "instructions": "Apply.",
        "share": ["instruction", "complexity_notes"],
    },
    {"action": "final"},
]


def source_dir(tmp_path):
    out = tmp_path / "docs"
    run(out, num_docs=3)
    return out


def test_instruct_from_a_metasynth_run(tmp_path):
    def answer(role, messages, params):
        if role == "iconductor":
            return json.dumps(PLAN[min(conductor_turns(messages), len(PLAN) - 1)])
        return default_answer(role, messages, params)

    model = ScriptedModel(answer)
    src = source_dir(tmp_path)
    fields = {"method": "instruct", "instruct": {"source": str(src), "rounds": 1}}
    summary, records = run(tmp_path / "instr", model, num_docs=5, **fields)
    assert summary.documents == 3  # bounded by the source documents
    record = records[0]
    assert record["method"] == "instruct" and record["seed"] == ["finance-metasynth-s0-0000000"]
    assert record["instruction"] and record["response"].startswith("Answer:")
    assert record["text"] == f"Instruction:\n{record['instruction']}\n\nResponse:\n{record['response']}"
    prov = record["prov"]
    assert prov["status"] == "final" and prov["evolutions"] == 1 and prov["fallbacks"] == []
    assert prov["experts_called"] == [
        "doc_transform",
        "question_editor",
        "complexity",
        "question_editor",
        "responder",
    ]
    # MetaSynth-Instruct books its conductor the same way: 4 calls + FINAL, the responder is the scaffold's
    assert prov["agency"]["conductor_turns"] == 5 and prov["agency"]["scaffold_turns"] == 0
    assert prov["agency"]["conductor_instructions"] == 4 and prov["agency"]["expert_calls"] == 5
    assert summary.agency["final_by"] == {"conductor": 3}


def test_final_too_early_forces_the_evolution_rounds(tmp_path):
    model = ScriptedModel()  # the scripted instruct conductor always says FINAL at once
    fields = {"method": "instruct", "instruct": {"source": str(source_dir(tmp_path)), "rounds": 2}}
    _, records = run(tmp_path / "instr", model, num_docs=1, **fields)
    prov = records[0]["prov"]
    assert prov["evolutions"] == 2
    assert prov["experts_called"][:6] == [
        "doc_transform",
        "question_editor",
        "role_suggester",
        "question_editor",
        "complexity",
        "question_editor",
    ]
    assert all("FINAL before" in f["reason"] for f in prov["fallbacks"])
    assert prov["agency"]["scaffold_reasons"] == {"early_final": 6}
    assert prov["agency"]["conductor_turns"] == 1 and prov["agency"]["final_by"] == "conductor"


def test_instruct_reads_a_jsonl_corpus(tmp_path):
    corpus = tmp_path / "real.jsonl"
    rows = [{"text": f"Document {i} on pension funds and annuity pricing for retirees."} for i in range(2)]
    corpus.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    fields = {"method": "instruct", "instruct": {"source": str(corpus), "rounds": 0}}
    summary, records = run(tmp_path / "instr", num_docs=2, **fields)
    assert summary.documents == 2 and all(r["instruction"] for r in records)
