"""Prompt files: every role renders, the set hash tracks edits, adding an expert is a file."""

from __future__ import annotations

import json
import shutil

import pytest

from metasynth_hf.config import DEFAULT_EXPERTS, fingerprint
from metasynth_hf.errors import ConfigError
from metasynth_hf.generation.prompts import DEFAULT_PROMPTS_DIR, PromptSet
from tests.generation.fakes import ScriptedModel, conductor_turns, default_answer
from tests.generation.helpers import make_config, run

ROLE_VARS = {
    "domain": "finance",
    "domain_description": "Money.",
    "persona": "a banker",
    "target_words": 300,
}


def test_every_expert_file_has_a_header_and_renders():
    prompts = PromptSet()
    for group, names in (
        ("experts", DEFAULT_EXPERTS),
        (
            "instruct/experts",
            ("doc_transform", "role_suggester", "complexity", "question_editor", "responder"),
        ),
    ):
        for name in names:
            role = prompts.role(group, name)
            assert role.description and role.output and role.default_instructions
            assert prompts.render(role.template, **ROLE_VARS)


def test_a_missing_variable_names_the_file():
    with pytest.raises(ConfigError, match="experts/domain_expert.jinja2.*persona"):
        PromptSet().render("experts/domain_expert", domain="finance", target_words=3)


def test_unknown_expert_lists_the_known_ones():
    with pytest.raises(ConfigError, match="known experts: .*content_analyst"):
        PromptSet().role("experts", "astrologer")


def copy_prompts(tmp_path):
    root = tmp_path / "prompts"
    shutil.copytree(DEFAULT_PROMPTS_DIR, root)
    return root


def test_hash_and_fingerprint_follow_the_files(tmp_path):
    root = copy_prompts(tmp_path)
    assert PromptSet(root).hash == PromptSet().hash
    config = make_config(tmp_path / "out")
    before = fingerprint(config, PromptSet(root).hash)
    (root / "experts" / "summarizer.jinja2").write_text(
        (root / "experts" / "summarizer.jinja2").read_text() + "\nBe brief."
    )
    assert PromptSet(root).hash != PromptSet().hash
    assert fingerprint(config, PromptSet(root).hash) != before


def test_header_without_description_is_refused(tmp_path):
    root = copy_prompts(tmp_path)
    (root / "experts" / "broken.jinja2").write_text("{#- output: draft -#}\nYou are broken.")
    with pytest.raises(ConfigError, match="broken.jinja2.*'description' and 'output'"):
        PromptSet(root).role("experts", "broken")


def test_adding_an_expert_is_a_prompt_file_and_a_config_line(tmp_path):
    root = copy_prompts(tmp_path)
    (root / "experts" / "fact_checker.jinja2").write_text(
        "{#-\ndescription: Fact Checker. Lists claims of the draft that need checking.\n"
        "output: checks\ndefault_share: [draft]\ndefault_instructions: Check the draft.\n-#}\n"
        "You are a meticulous {{ domain }} fact checker."
    )
    plan = [
        {
            "action": "call_expert",
            "expert": "fact_checker",
            "instructions": "Check.",
            "share": ["draft"],
        }
    ]

    def answer(role, messages, params):
        if role == "conductor":
            assert "fact_checker: Fact Checker." in messages[0]["content"]
            if conductor_turns(messages) == 2:
                return json.dumps(plan[0])
        if role == "writer" and "fact checker" in messages[0]["content"]:
            return "Claim 1 needs a source."
        return default_answer(role, messages, params)

    experts = [*DEFAULT_EXPERTS, "fact_checker"]
    _, records = run(
        tmp_path / "out",
        ScriptedModel(answer),
        num_docs=1,
        prompts_dir=str(root),
        expert_set=experts,
    )
    prov = records[0]["prov"]
    assert "fact_checker" in prov["experts_called"]
    assert prov["prompt_set"] == PromptSet(root).hash != PromptSet().hash


# Texts that used to be Python literals: each file gets a marker, and a run must show every
# marker to the model (so they are prompts, under the hash, and no code path bypasses them).
MOVED_TEXTS = {
    "conductor/turn.yaml": 'placeholder: "MARK-PLACEHOLDER"\n',
    "conductor/artifacts.yaml": None,  # edited below: one description replaced
    "conductor/seeds.jinja2": "MARK-SEEDS {{ seeds.keywords | join(' ') }}",
    "conductor/instance_table.jinja2": "MARK-TABLE {{ groups | length }}",
    "conductor/scaffold_note.jinja2": "MARK-NOTE {{ reason }}",
    "conductor/empty_reply.jinja2": "MARK-EMPTY",
    "experts/_request.jinja2": "{{ instructions }} MARK-REQUEST {{ notes }} {{ shared.values() | join(' ') }}",
}


def test_every_model_visible_text_is_a_prompt_file(tmp_path):
    root = copy_prompts(tmp_path)
    for name, text in MOVED_TEXTS.items():
        if text is not None:
            (root / name).write_text(text)
    artifacts = root / "conductor" / "artifacts.yaml"
    artifacts.write_text(artifacts.read_text().replace("the latest draft of the document", "MARK-ARTIFACT"))

    def conductor(messages, params):
        turn = conductor_turns(messages)
        if turn == 1 or messages[-2]["content"] == "MARK-EMPTY":
            return ""  # unusable twice: the re-ask shows the empty reply, the scaffold a note
        plan = {"action": "call_expert", "expert": "domain_expert", "instructions": "Write.", "context": "NOTES"}
        return json.dumps(plan) if turn == 2 else default_answer("conductor", messages, params)

    def answer(role, messages, params):
        return conductor(messages, params) if role == "conductor" else default_answer(role, messages, params)

    model = ScriptedModel(answer)
    _, records = run(tmp_path / "out", model, num_docs=2, lanes=1, prompts_dir=str(root))
    seen = "\n".join(m["content"] for _, messages, _ in model.calls for m in messages)
    for marker in ("PLACEHOLDER", "ARTIFACT", "SEEDS", "TABLE", "NOTE unusable", "EMPTY", "REQUEST NOTES"):
        assert f"MARK-{marker}" in seen, marker
    assert records[0]["prov"]["prompt_set"] == PromptSet(root).hash != PromptSet().hash


def test_every_file_of_the_prompt_set_is_hashed(tmp_path):
    root = copy_prompts(tmp_path)
    before = PromptSet(root).hash
    (root / "conductor" / "turn.yaml").write_text('placeholder: "<your instructions>"\n')
    assert PromptSet(root).hash != before


def test_a_prompt_set_without_a_data_file_says_which(tmp_path):
    root = copy_prompts(tmp_path)
    (root / "conductor" / "turn.yaml").unlink()
    with pytest.raises(ConfigError, match=r"conductor/turn.yaml is missing; copy it from"):
        _ = PromptSet(root).placeholder
