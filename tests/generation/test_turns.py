"""Conductor turn parsing: what a small model writes, and what must be re-asked."""

from __future__ import annotations

import pytest

from metasynth_hf.errors import ParseError
from metasynth_hf.generation.turns import Turn, match_expert, parse_turn, text_limit, turn_schema

EXPERTS = ["seed_keywords", "domain_expert", "content_analyst", "summarizer", "topic_labeler"]
ARTIFACTS = ["seeds", "instance_table", "keywords", "draft", "analysis"]


def test_well_formed_call():
    text = (
        '{"action": "call_expert", "expert": "domain_expert", "instructions": "Write.", "share": ["seeds", "draft"]}'
    )
    assert parse_turn(text, EXPERTS, ARTIFACTS) == Turn(
        "call_expert", expert="domain_expert", instructions="Write.", share=("seeds", "draft")
    )


def test_drift_is_understood():
    text = 'Sure!\n```json\n{"expert": "Domain Expert", "instruction": "Write.", "share": "seeds, bogus, draft",}\n```'
    turn = parse_turn(text, EXPERTS, ARTIFACTS)
    assert (turn.action, turn.expert, turn.share) == (
        "call_expert",
        "domain_expert",
        ("seeds", "draft"),
    )


def test_context_text_and_context_as_artifact_list():
    turn = parse_turn('{"expert": "summarizer", "context": "focus on risk"}', EXPERTS, ARTIFACTS)
    assert turn.context == "focus on risk" and turn.share == ()
    turn = parse_turn('{"expert": "summarizer", "context": ["draft"]}', EXPERTS, ARTIFACTS)
    assert turn.context == "" and turn.share == ("draft",)


@pytest.mark.parametrize("text", ['{"action": "final"}', '{"action": "FINAL", "document": "x"}', '{"action": "done"}'])
def test_final(text):
    assert parse_turn(text, EXPERTS, ARTIFACTS).action == "final"


def test_final_keeps_document():
    assert parse_turn('{"action": "final", "document": "The text."}', EXPERTS, ARTIFACTS).document == "The text."


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("I think the domain expert should write.", "no JSON object"),
        ('{"action": "call_expert", "expert": "astrologer"}', "must be one of"),
        ('{"action": "dance"}', '"action" must be'),
        ("", "no JSON object"),
    ],
)
def test_unusable_replies_raise_with_the_reason(text, fragment):
    with pytest.raises(ParseError, match=fragment):
        parse_turn(text, EXPERTS, ARTIFACTS)


def test_action_naming_the_expert():
    assert parse_turn('{"action": "summarizer"}', EXPERTS, ARTIFACTS).expert == "summarizer"


def test_match_expert_spellings():
    assert match_expert("Content Analyst Expert", EXPERTS) == "content_analyst"
    assert match_expert("the summarizer", EXPERTS) == "summarizer"
    assert match_expert("astrologer", EXPERTS) is None
    assert match_expert(3, EXPERTS) is None


def test_schema_lists_the_choices_and_bounds_the_text():
    call, final = turn_schema(EXPERTS, ARTIFACTS, max_tokens=300)["anyOf"]
    limit = text_limit(300, len(ARTIFACTS))
    assert call["properties"]["expert"]["enum"] == EXPERTS
    assert call["properties"]["share"]["items"]["enum"] == ARTIFACTS
    assert call["properties"]["share"]["maxItems"] == len(ARTIFACTS)
    assert call["properties"]["instructions"] == {"type": "string", "maxLength": limit * 2 // 3}
    # at one character per token, text + keys + shared names still fit the budget
    worst = limit * 2 // 3 + limit // 3 + 50 + 5 * len(ARTIFACTS)
    assert worst <= 300
    assert final["required"] == ["action"] and final["properties"]["action"] == {"const": "final"}
    unbounded, _ = turn_schema(EXPERTS, ARTIFACTS)["anyOf"]
    assert unbounded["properties"]["instructions"] == {"type": "string"}


def test_text_limit_leaves_room_for_the_json_keys():
    assert text_limit(300, 2) == 300 - 50 - 10
    assert text_limit(10, 2) == 24  # never empty


def test_canonical_json_round_trips():
    turn = Turn("call_expert", expert="summarizer", instructions="Sum up.", share=("draft",), context="c")
    assert parse_turn(turn.to_json(), EXPERTS, ARTIFACTS) == turn
