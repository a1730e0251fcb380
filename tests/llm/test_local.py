"""Embedded default model: dynamic batching gives the same greedy output as one at a time."""

from __future__ import annotations

import asyncio

import pytest

from metasynth_hf.llm.base import SamplingParams

pytestmark = pytest.mark.slow

PROMPTS = [
    "What is a bond coupon?",
    "Name three parts of a cell.",
    "Explain inflation in one sentence, please, for a student who is new to economics.",
    "Write a haiku about the sea.",
]


def _messages(prompt):
    return [{"role": "user", "content": prompt}]


def test_batched_greedy_output_equals_single_sequence_output(local_model):
    params = SamplingParams(max_tokens=24, temperature=0)

    async def one_at_a_time():
        return [await local_model.chat(_messages(p), params) for p in PROMPTS]

    async def all_at_once():
        return await asyncio.gather(*(local_model.chat(_messages(p), params) for p in PROMPTS))

    before = local_model.batches_run
    single = asyncio.run(one_at_a_time())
    assert local_model.batches_run - before == len(PROMPTS)
    before = local_model.batches_run
    batched = asyncio.run(all_at_once())
    assert local_model.batches_run - before == 1  # one generate call served all four
    assert [r.text for r in batched] == [r.text for r in single]
    assert [r.usage.completion_tokens for r in batched] == [
        r.usage.completion_tokens for r in single
    ]
    assert [r.usage.prompt_tokens for r in batched] == [r.usage.prompt_tokens for r in single]


def test_per_row_max_tokens_and_stop_strings(local_model):
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
    assert "3" not in stopped.text


def test_sampling_is_reproducible_for_the_same_seed(local_model):
    params = SamplingParams(max_tokens=16, temperature=0.9, seed=7)

    async def run():
        return await local_model.chat(_messages(PROMPTS[3]), params)

    assert asyncio.run(run()).text == asyncio.run(run()).text


def test_rows_with_different_sampling_share_a_batch_and_greedy_rows_stay_exact(local_model):
    greedy = SamplingParams(max_tokens=12, temperature=0)
    hot = SamplingParams(max_tokens=12, temperature=0.9, top_p=0.5, seed=3)
    warm = SamplingParams(max_tokens=12, temperature=0.7, top_p=0.95, seed=4)

    async def alone():
        return await local_model.chat(_messages(PROMPTS[0]), greedy)

    async def mixed():
        return await asyncio.gather(
            local_model.chat(_messages(PROMPTS[0]), greedy),
            local_model.chat(_messages(PROMPTS[1]), hot),
            local_model.chat(_messages(PROMPTS[2]), warm),
        )

    expected = asyncio.run(alone())
    before = local_model.batches_run
    first, *sampled = asyncio.run(mixed())
    assert local_model.batches_run - before == 1  # one generate call for three settings
    assert first.text == expected.text
    assert all(r.usage.completion_tokens > 0 for r in sampled)
