"""Embedded default on llama.cpp: a reply depends only on its own request, never on its neighbours."""

from __future__ import annotations

import asyncio
import json

import pytest

from metasynth_hf.llm.base import SamplingParams
from metasynth_hf.llm.local import LocalChatModel, close_engines, request_seed

pytestmark = pytest.mark.slow

PROMPTS = [
    "What is a bond coupon?",
    "Name three parts of a cell.",
    "Explain inflation in one sentence, please, for a student who is new to economics.",
    "Write a haiku about the sea.",
]
TURN_SCHEMA = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["CALL", "FINAL"]},
        "expert": {"type": "string", "maxLength": 20},
        "instructions": {"type": "string", "maxLength": 60},
    },
    "required": ["action", "expert", "instructions"],
}


def _messages(prompt):
    return [{"role": "user", "content": prompt}]


def test_sampled_reply_is_the_same_alone_and_amid_fifteen_concurrent_requests(local_model):
    params = SamplingParams(max_tokens=32, temperature=0.8, seed=11)
    others = [
        (
            _messages(f"Tell me something about finance topic number {i}."),
            SamplingParams(max_tokens=8 + 3 * i, temperature=0.8, seed=i),
        )
        for i in range(15)
    ]

    async def alone():
        return await local_model.chat(_messages(PROMPTS[3]), params)

    async def crowded():
        crowd = [local_model.chat(m, p) for m, p in others[:7]]
        # the request of interest arrives while the first seven are mid-decode
        await asyncio.sleep(0.05)
        mine = local_model.chat(_messages(PROMPTS[3]), params)
        rest = [local_model.chat(m, p) for m, p in others[7:]]
        replies = await asyncio.gather(mine, *crowd, *rest)
        return replies[0], replies[1:]

    expected = asyncio.run(alone())
    got, crowd = asyncio.run(crowded())
    assert got.text == expected.text and got.usage == expected.usage
    assert all(r.usage.completion_tokens > 0 for r in crowd)
    # a different seed really samples differently (the seed is not ignored)
    reseeded = asyncio.run(
        local_model.chat(_messages(PROMPTS[3]), SamplingParams(max_tokens=32, temperature=0.8, seed=12))
    )
    assert reseeded.text != expected.text


def test_greedy_replies_equal_one_at_a_time_and_all_at_once(local_model):
    params = SamplingParams(max_tokens=24, temperature=0)

    async def one_at_a_time():
        return [await local_model.chat(_messages(p), params) for p in PROMPTS]

    async def all_at_once():
        return await asyncio.gather(*(local_model.chat(_messages(p), params) for p in PROMPTS))

    single = asyncio.run(one_at_a_time())
    decodes = local_model.stats["decode_calls"]
    batched = asyncio.run(all_at_once())
    assert [r.text for r in batched] == [r.text for r in single]
    assert [r.usage for r in batched] == [r.usage for r in single]
    # decoded together: far fewer llama_decode calls than tokens generated
    generated = sum(r.usage.completion_tokens for r in batched)
    assert local_model.stats["decode_calls"] - decodes < generated


def test_schema_constrained_replies_always_parse(local_model):
    params = SamplingParams(max_tokens=120, temperature=0.9, seed=5, json_schema=TURN_SCHEMA)
    prompts = [f"Plan step {i} of writing a finance article. Answer in JSON." for i in range(6)]

    async def run():
        return await asyncio.gather(*(local_model.chat(_messages(p), params) for p in prompts))

    for reply in asyncio.run(run()):
        assert reply.finish_reason == "stop", reply.text
        turn = json.loads(reply.text)
        assert turn["action"] in {"CALL", "FINAL"} and isinstance(turn["instructions"], str)


def test_max_tokens_and_stop_strings_per_request(local_model):
    async def run():
        return await asyncio.gather(
            local_model.chat(_messages(PROMPTS[0]), SamplingParams(max_tokens=3, temperature=0)),
            local_model.chat(_messages(PROMPTS[1]), SamplingParams(max_tokens=20, temperature=0)),
            local_model.chat(
                _messages("List the numbers 1, 2, 3, 4, 5 separated by commas."),
                SamplingParams(max_tokens=20, temperature=0, stop=("3",)),
            ),
        )

    short, longer, stopped = asyncio.run(run())
    assert short.usage.completion_tokens == 3 and short.finish_reason == "length"
    assert 3 < longer.usage.completion_tokens <= 20
    assert "3" not in stopped.text and stopped.finish_reason == "stop"


def test_a_growing_conversation_reuses_its_prefix(local_model):
    history = [{"role": "system", "content": "You plan documents. " * 40}, {"role": "user", "content": "Turn 1."}]
    params = SamplingParams(max_tokens=12, temperature=0)

    async def run():
        first = await local_model.chat(history, params)
        before = dict(local_model.stats)
        longer = [*history, {"role": "assistant", "content": first.text}, {"role": "user", "content": "Turn 2."}]
        second = await local_model.chat(longer, params)
        return first, before, second

    first, before, second = asyncio.run(run())
    reused = local_model.stats["reused_prompt_tokens"] - before["reused_prompt_tokens"]
    prefilled = local_model.stats["prefill_tokens"] - before["prefill_tokens"]
    # the long system prompt and the whole first exchange were not computed again
    assert reused >= first.usage.prompt_tokens - 1 > 150
    assert prefilled == second.usage.prompt_tokens - reused


@pytest.mark.parametrize("temperature", [0.0, 0.7])
def test_a_reply_is_the_same_with_or_without_a_reusable_prefix_in_the_cache(temperature):
    system = {"role": "system", "content": "You plan documents carefully. " * 30}
    first = [system, {"role": "user", "content": "Turn 1"}]
    later = [*first, {"role": "assistant", "content": "x"}, {"role": "user", "content": "Turn 2: write about bonds."}]
    params = SamplingParams(max_tokens=40, temperature=temperature, seed=1)

    async def run(model, warm):
        if warm:
            await model.chat(first, params)
        return await model.chat(later, params)

    fresh = asyncio.run(run(LocalChatModel(parallel=2, context_tokens=1024), warm=False))
    close_engines()  # a new engine: empty KV cache (closed, not just forgotten: its thread stops)
    warm_model = LocalChatModel(parallel=2, context_tokens=1024)
    warmed = asyncio.run(run(warm_model, warm=True))
    assert warm_model.stats["reused_prompt_tokens"] > 150  # the system prompt was reused
    assert warmed.text == fresh.text


def test_too_long_a_prompt_is_a_clear_error_and_the_engine_keeps_serving():
    model = LocalChatModel(parallel=2, context_tokens=256)
    params = SamplingParams(max_tokens=8, temperature=0)
    with pytest.raises(ValueError, match="context of 256 tokens"):
        asyncio.run(model.chat(_messages("word " * 400), params))
    assert asyncio.run(model.chat(_messages(PROMPTS[0]), params)).usage.completion_tokens > 0


def test_a_request_without_a_seed_gets_one_from_itself():
    params = SamplingParams(temperature=0.7)
    assert request_seed(_messages("a"), params) == request_seed(_messages("a"), params)
    assert request_seed(_messages("a"), params) != request_seed(_messages("b"), params)
    assert request_seed(_messages("a"), SamplingParams(seed=3)) == 3


def test_a_non_gguf_model_is_refused_with_the_fix():
    from metasynth_hf.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\.gguf"):
        LocalChatModel("HuggingFaceTB/SmolLM2-135M-Instruct")


def test_conductor_turns_under_the_turn_schema_parse_within_a_small_budget(local_model):
    from metasynth_hf.generation.turns import parse_turn, turn_schema

    experts, artifacts = ["domain_expert", "summarizer"], ["seeds", "draft"]
    params = SamplingParams(max_tokens=96, temperature=0.7, json_schema=turn_schema(experts, artifacts, 96))
    messages = [
        [
            {"role": "system", "content": "You direct experts. Reply with one JSON turn."},
            {"role": "user", "content": f"Document {i}: decide the next step for a text about bonds."},
        ]
        for i in range(8)
    ]

    async def run():
        return await asyncio.gather(
            *(local_model.chat(m, SamplingParams(**{**params.__dict__, "seed": i})) for i, m in enumerate(messages))
        )

    for reply in asyncio.run(run()):
        assert reply.usage.completion_tokens <= 96
        parse_turn(reply.text, experts, artifacts)  # raises ParseError if it does not parse


def test_schema_grammar_keeps_control_characters_out_of_strings():
    from metasynth_hf.llm.llama_engine import schema_grammar

    grammar = schema_grammar(json.dumps({"type": "string", "maxLength": 3}))
    assert 'char ::= [^"\\\\\\x7F\\x00-\\x1F]' in grammar


def test_an_interrupted_caller_does_not_stop_the_engine(local_model):
    async def abandon():
        _ = asyncio.ensure_future(
            local_model.chat(_messages(PROMPTS[1]), SamplingParams(max_tokens=64, temperature=0))
        )
        await asyncio.sleep(0.2)  # mid-decode; asyncio.run then closes the loop under it

    asyncio.run(abandon())
    reply = asyncio.run(local_model.chat(_messages(PROMPTS[0]), SamplingParams(max_tokens=4, temperature=0)))
    assert reply.usage.completion_tokens > 0


def test_closing_the_engines_waits_for_the_decode_thread_and_a_later_call_loads_again(local_model):
    """What `metasynth` does on Ctrl-C and at exit: no llama.cpp call may run while Python frees
    the model. The unanswered request fails; the next call in the process gets a new engine."""
    from metasynth_hf.llm.llama_engine import EngineClosed

    async def close_mid_decode():
        call = asyncio.ensure_future(
            local_model.chat(_messages(PROMPTS[1]), SamplingParams(max_tokens=256, temperature=0))
        )
        await asyncio.sleep(0.2)
        engine = local_model._engine
        await asyncio.to_thread(close_engines)
        assert engine.closed and not engine._thread.is_alive()
        with pytest.raises(EngineClosed):
            await call

    asyncio.run(close_mid_decode())
    reply = asyncio.run(local_model.chat(_messages(PROMPTS[0]), SamplingParams(max_tokens=4, temperature=0)))
    assert reply.usage.completion_tokens > 0
