"""The conductor's memory: its message history within one document, under a token budget.

The history is the system prompt, the task, then (assistant turn, observation) pairs. When
it outgrows `max_tokens`, the oldest pairs are condensed into a running summary (by the
Summarizer expert, or a mechanical digest), never silently dropped: the conductor always
sees a summary of everything it did. A single observation too large for the budget alone is
clipped with an explicit marker. Every text the conductor reads here is a prompt file
(`conductor/history_digest`, `memory_turns`, `memory_digest`, `clip_mark`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from metasynth_hf.generation.text import approx_tokens, excerpt
from metasynth_hf.llm.base import Message

if TYPE_CHECKING:
    from metasynth_hf.generation.prompts import PromptSet

logger = logging.getLogger(__name__)

Summarize = Callable[[str, str], Awaitable[str]]  # (previous summary, turns text) -> summary


class ConductorMemory:
    """Bounded conductor history; `messages()` is what the next conductor call sees."""

    def __init__(self, system: str, task: str, max_tokens: int, *, prompts: PromptSet):
        self.system = system
        self.task = task
        self.max_tokens = max_tokens
        self.summary = ""
        self.turns: list[tuple[str, str]] = []
        self.condensed_turns = 0
        self.summary_calls = 0
        self.context_fits = 0  # times the server said the prompt did not fit its context
        self.prompts = prompts
        self.clip_mark = "\n" + prompts.render("conductor/clip_mark")

    def add(self, assistant: str, observation: str) -> None:
        self.turns.append((assistant, observation))

    def messages(self) -> list[Message]:
        task = self.task
        if self.summary:
            task = f"{task}\n\n{self.prompts.render('conductor/history_digest', summary=self.summary)}"
        out: list[Message] = [
            {"role": "system", "content": self.system},
            {"role": "user", "content": task},
        ]
        for assistant, observation in self.turns:
            out.append({"role": "assistant", "content": assistant})
            out.append({"role": "user", "content": observation})
        return out

    def size(self) -> int:
        return sum(approx_tokens(m["content"]) + 4 for m in self.messages())

    def shrink(self, factor: float) -> bool:
        """Lower the budget to `factor` of today's size (the server counted the prompt and it did
        not fit its context); False when nothing is left to condense."""
        if not self.turns or factor <= 0:
            return False
        budget = int(self.size() * min(factor, 0.95))
        if budget <= approx_tokens(self.system) + approx_tokens(self.task):
            return False
        self.max_tokens = min(self.max_tokens, budget)
        self.context_fits += 1
        return True

    async def fit(self, summarize: Summarize | None) -> None:
        """Condense the oldest turns until the history fits (the latest turn always stays)."""
        if self.size() <= self.max_tokens:
            return
        take = 0
        while take < len(self.turns) - 1:
            take += 1
            rest = self.turns[take:]
            rest_tokens = sum(approx_tokens(a) + approx_tokens(o) + 8 for a, o in rest)
            fixed = approx_tokens(self.system) + approx_tokens(self.task) + 300
            if fixed + rest_tokens <= self.max_tokens:
                break
        if take:
            old, self.turns = self.turns[:take], self.turns[take:]
            new_summary = ""
            if summarize is not None:
                turns_text = self.prompts.render("conductor/memory_turns", turns=old)
                new_summary = (await summarize(self.summary, turns_text)).strip()
                self.summary_calls += 1
            if not new_summary:
                new_summary = self.prompts.render("conductor/memory_digest", previous=self.summary, turns=old)
            self.summary = excerpt(new_summary, 1600)
            self.condensed_turns += take
            logger.debug("memory: condensed %d turns into the summary", take)
        self._clip_last()

    def _clip_last(self) -> None:
        overflow = self.size() - self.max_tokens
        if overflow <= 0 or not self.turns:
            return
        assistant, observation = self.turns[-1]
        keep = max(200, len(observation) - 4 * overflow - len(self.clip_mark))
        if keep < len(observation):
            self.turns[-1] = (assistant, observation[:keep] + self.clip_mark)
