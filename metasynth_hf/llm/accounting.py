"""Token and call accounting per role and per endpoint, readable during and after a run."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass

from metasynth_hf.llm.base import ChatModel, Message, Reply, SamplingParams


@dataclass
class Tally:
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0

    def add(self, reply: Reply) -> None:
        self.calls += 1
        self.cache_hits += int(reply.cached)
        self.prompt_tokens += reply.usage.prompt_tokens
        self.completion_tokens += reply.usage.completion_tokens
        if not reply.cached:
            self.latency_s += reply.latency_s


class UsageMeter:
    """Collects every reply's cost; `snapshot()` is JSON-able for summaries and provenance."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.by_role: dict[str, Tally] = defaultdict(Tally)
        self.by_endpoint: dict[str, Tally] = defaultdict(Tally)
        self.in_flight = 0  # calls sent and not yet answered (progress display)

    def record(self, role: str, reply: Reply) -> None:
        self.by_role[role].add(reply)
        if not reply.cached:
            self.by_endpoint[reply.endpoint or reply.model].add(reply)

    @property
    def total(self) -> Tally:
        out = Tally()
        for t in self.by_role.values():
            for field in asdict(out):
                setattr(out, field, getattr(out, field) + getattr(t, field))
        return out

    def tokens_per_second(self) -> float:
        """Completion tokens per wall-clock second, counting only paid (uncached) calls."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        paid = sum(t.completion_tokens for t in self.by_endpoint.values())
        return paid / elapsed

    def snapshot(self) -> dict:
        return {
            "total": asdict(self.total),
            "by_role": {k: asdict(v) for k, v in sorted(self.by_role.items())},
            "by_endpoint": {k: asdict(v) for k, v in sorted(self.by_endpoint.items())},
            "wall_time_s": round(time.monotonic() - self.started, 3),
        }


class MeteredChatModel:
    """Tags every call with a role (conductor, domain_expert, ...) for the meter."""

    def __init__(self, inner: ChatModel, meter: UsageMeter, role: str):
        self.inner = inner
        self.meter = meter
        self.role = role

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    async def chat(self, messages: list[Message], params: SamplingParams | None = None) -> Reply:
        self.meter.in_flight += 1
        try:
            reply = await self.inner.chat(messages, params)
        finally:
            self.meter.in_flight -= 1
        self.meter.record(self.role, reply)
        return reply

    async def aclose(self) -> None:
        await self.inner.aclose()
