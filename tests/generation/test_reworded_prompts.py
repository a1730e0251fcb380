"""The test fake answers by role, not by prompt wording: a prompt set with every role's
name and opening sentence reworded runs every method exactly as the shipped one does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import metasynth_hf
from tests.generation.fakes import ScriptedModel, conductor_turns, default_answer
from tests.generation.helpers import run

SHIPPED = Path(metasynth_hf.__file__).parent / "prompts"
# The phrases a prompt-reading fake would key on (role names, "You are the ...").
REWORDING = {
    "You are the": "Acting as the",
    "Conductor": "Coordinator",
    "Expert": "Specialist",
    "writing for a": "composing for a",
    "Summarise these earlier steps": "Condense the steps so far",
    "Answer the instruction": "Respond to the instruction",
}

INSTRUCT_PLAN = [
    {"action": "call_expert", "expert": "doc_transform", "instructions": "Extract.", "share": ["document"]},
    {"action": "call_expert", "expert": "question_editor", "instructions": "Write one.", "share": ["material"]},
    {"action": "final"},
]


def reworded(tmp_path: Path) -> Path:
    out = tmp_path / "prompts"
    shutil.copytree(SHIPPED, out)
    changed = 0
    for path in out.rglob("*.jinja2"):
        text = original = path.read_text()
        for old, new in REWORDING.items():
            text = text.replace(old, new)
        path.write_text(text)
        changed += text != original
    assert changed >= 10  # the rewording reaches the conductor, experts and instruct prompts
    return out


def answer(role, messages, params):
    if role == "iconductor":
        return json.dumps(INSTRUCT_PLAN[min(conductor_turns(messages), len(INSTRUCT_PLAN) - 1)])
    return default_answer(role, messages, params)


@pytest.mark.parametrize("method", ["metasynth", "template", "template_prior"])
def test_reworded_prompts_give_the_same_run(tmp_path, method):
    prompts = reworded(tmp_path)
    shipped_summary, shipped = run(tmp_path / "shipped", ScriptedModel(answer), method=method, num_docs=3)
    summary, records = run(
        tmp_path / "reworded", ScriptedModel(answer), method=method, num_docs=3, prompts_dir=str(prompts)
    )
    assert summary.documents == shipped_summary.documents == 3
    assert summary.statuses == shipped_summary.statuses
    assert [r["prov"].get("experts_called") for r in records] == [r["prov"].get("experts_called") for r in shipped]
    assert summary.agency == shipped_summary.agency


def test_reworded_prompts_run_instruct(tmp_path):
    prompts = reworded(tmp_path)
    run(tmp_path / "docs", num_docs=2, prompts_dir=str(prompts))
    fields = {"method": "instruct", "instruct": {"source": str(tmp_path / "docs"), "rounds": 1}}
    summary, records = run(tmp_path / "instr", ScriptedModel(answer), num_docs=2, prompts_dir=str(prompts), **fields)
    assert summary.documents == 2
    assert all(r["instruction"] and r["response"] for r in records)
