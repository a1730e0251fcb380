"""Every model call of one document goes through a Caller: deterministic per-call seeds,
the per-document token budget, and the trace that becomes the record's provenance."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metasynth_hf.config import SamplingConfig
from metasynth_hf.errors import MetaSynthError
from metasynth_hf.llm.base import ChatModel, Message, Reply, SamplingParams


class TokenBudgetExhausted(MetaSynthError):
    """The document spent `stop.max_doc_tokens`; the loop assembles what it has."""


def call_seed(run_seed: int, doc_index: int, turn: int, role: str, attempt: int = 0) -> int:
    """The sampling seed of one call: a pure function of where the call sits in the run.

    Same question + same seed = same cache key, so a rerun is answered from the cache; a
    re-ask (attempt 1) gets a different seed so a stuck model gets a second chance.
    """
    blob = json.dumps([run_seed, doc_index, turn, role, attempt]).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "big") & 0x7FFFFFFF


@dataclass
class DocTrace:
    """What happened while one document was made."""

    experts: list[str] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    reasks: list[dict[str, Any]] = field(default_factory=list)
    by_role: dict[str, dict[str, int]] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    latency_s: float = 0.0
    calls: int = 0
    cache_hits: int = 0
    completion_tokens: int = 0

    def fallback(self, turn: int, reason: str, raw: str = "", action: str = "") -> None:
        self.fallbacks.append({"turn": turn, "reason": reason[:300], "raw": raw[:300], "action": action})

    def reask(self, turn: int, reason: str, raw: str = "") -> None:
        """A turn the conductor got right when asked again: its own turn, not a fallback."""
        self.reasks.append({"turn": turn, "reason": reason[:300], "raw": raw[:300]})

    def tokens_by_role(self) -> dict[str, dict[str, int]]:
        return {role: dict(sorted(t.items())) for role, t in sorted(self.by_role.items())}

    def provenance(self) -> dict[str, Any]:
        """The trace's part of the provenance (cache hits excluded: they differ on rerun)."""
        return {
            "experts_called": list(self.experts),
            "turns": list(self.turns),
            "fallbacks": list(self.fallbacks),
            "reasks": list(self.reasks),
            "tokens_by_role": self.tokens_by_role(),
            "models": dict(sorted(self.models.items())),
            "wall_time_s": round(self.latency_s, 3),
        }


class Caller:
    """Calls `models[role]` with a derived seed and records the reply's cost."""

    def __init__(
        self,
        models: Mapping[str, ChatModel],
        trace: DocTrace,
        *,
        run_seed: int,
        doc_index: int,
        token_budget: int,
    ):
        self.models = models
        self.trace = trace
        self.run_seed = run_seed
        self.doc_index = doc_index
        self.token_budget = token_budget

    async def __call__(self, role: str, messages: list[Message], sampling: SamplingConfig, **options: Any) -> str:
        """The reply text (`reply`'s options); `bookkeeping` calls (labels, summaries) ignore the
        token budget."""
        return (await self.reply(role, messages, sampling, **options)).text or ""

    async def reply(
        self,
        role: str,
        messages: list[Message],
        sampling: SamplingConfig,
        *,
        turn: int,
        attempt: int = 0,
        json_schema: dict[str, Any] | None = None,
        bookkeeping: bool = False,
        max_tokens: int | None = None,
    ) -> Reply:
        """The whole reply (`Reply.truncated`: cut at max_tokens), for the calls that write the text."""
        if not bookkeeping and self.trace.completion_tokens >= self.token_budget:
            raise TokenBudgetExhausted(
                f"document {self.doc_index}: {self.trace.completion_tokens} completion tokens "
                f"spent, stop.max_doc_tokens={self.token_budget}"
            )
        params = SamplingParams(
            max_tokens=max_tokens or sampling.max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            seed=call_seed(self.run_seed, self.doc_index, turn, role, attempt),
            json_schema=json_schema,
        )
        reply = await self.models[role].chat(messages, params)
        tally = self.trace.by_role.setdefault(role, {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0})
        tally["calls"] += 1
        tally["prompt_tokens"] += reply.usage.prompt_tokens
        tally["completion_tokens"] += reply.usage.completion_tokens
        self.trace.models.setdefault(role, reply.model)
        self.trace.latency_s += reply.latency_s
        self.trace.calls += 1
        self.trace.cache_hits += int(reply.cached)
        self.trace.completion_tokens += reply.usage.completion_tokens
        return reply
