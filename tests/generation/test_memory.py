"""The conductor's memory: bounded by tokens, old turns condensed, never silently cut."""

from __future__ import annotations

import asyncio
import shutil
from functools import cache
from pathlib import Path
from tempfile import mkdtemp

from metasynth_hf.generation.memory import ConductorMemory
from metasynth_hf.generation.prompts import DEFAULT_PROMPTS_DIR, PromptSet

CLIP_MARK = "[CLIPPED]"


@cache
def prompts() -> PromptSet:
    """The shipped prompt set with the memory's own texts replaced by markers this test knows."""
    root = Path(mkdtemp()) / "prompts"
    shutil.copytree(DEFAULT_PROMPTS_DIR, root)
    (root / "conductor/history_digest.jinja2").write_text("EARLIER: {{ summary }}")
    (root / "conductor/clip_mark.jinja2").write_text(CLIP_MARK)
    return PromptSet(root)


def make(max_tokens: int = 400) -> ConductorMemory:
    return ConductorMemory("system " * 20, "task " * 20, max_tokens, prompts=prompts())


def fill(memory: ConductorMemory, n: int, size: int = 200) -> None:
    for i in range(n):
        memory.add(f'{{"expert": "e{i}"}}', f"answer {i} " + "x" * size)


def test_under_budget_nothing_changes():
    memory = make(2000)
    fill(memory, 3)
    before = memory.messages()
    asyncio.run(memory.fit(None))
    assert memory.messages() == before and memory.condensed_turns == 0


def test_over_budget_condenses_oldest_with_the_summarizer():
    memory = make(400)
    fill(memory, 8)
    seen = []

    async def summarize(previous: str, turns: str) -> str:
        seen.append(turns)
        return "called e0..e5 and decided things"

    asyncio.run(memory.fit(summarize))
    assert memory.size() <= 400
    assert memory.condensed_turns >= 1 and memory.summary_calls == 1
    assert "e0" in seen[0] and "answer 0" in seen[0]  # the oldest turn went into the summary
    messages = memory.messages()
    assert "EARLIER: called e0..e5" in messages[1]["content"]
    assert messages[-1]["content"].startswith("answer 7")  # the latest turn always stays
    assert len(memory.turns) + memory.condensed_turns == 8  # nothing silently dropped


def test_empty_summary_falls_back_to_a_digest_of_every_turn():
    memory = make(400)
    fill(memory, 6)

    async def summarize(previous: str, turns: str) -> str:
        return ""

    asyncio.run(memory.fit(summarize))
    condensed = memory.condensed_turns
    assert condensed >= 1
    for i in range(condensed):
        assert f"e{i}" in memory.summary


def test_summaries_accumulate_across_fits():
    memory = make(400)
    fill(memory, 6)
    asyncio.run(memory.fit(None))
    first = memory.condensed_turns
    fill(memory, 6)
    asyncio.run(memory.fit(None))
    assert memory.condensed_turns > first
    assert "e0" in memory.summary  # the first digest is carried into the second


def test_a_single_huge_observation_is_clipped_with_a_marker():
    memory = make(300)
    memory.add('{"expert": "domain_expert"}', "word " * 2000)
    asyncio.run(memory.fit(None))
    assert memory.turns[-1][1].endswith(CLIP_MARK)
    assert memory.size() <= 300 + 60
