"""The one protocol every conductor and expert call goes through.

Messages are OpenAI-format dicts (`{"role": ..., "content": ...}`) so that any backend,
TGI, vLLM, llama.cpp or the embedded model, takes the same input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Message = dict[str, str]


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings; part of the response-cache key, so keep them explicit."""

    max_tokens: int = 512
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None
    stop: tuple[str, ...] = ()
    # A JSON schema the reply must follow; backends use the server's structured output
    # when they can, and callers always parse tolerantly.
    json_schema: dict[str, Any] | None = None

    def to_key(self) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "stop": list(self.stop),
            "json_schema": self.json_schema,
        }


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Reply:
    """A finished chat call: text plus what it cost and where it came from."""

    text: str
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    latency_s: float = 0.0
    endpoint: str = ""
    finish_reason: str | None = None
    cached: bool = False

    @property
    def truncated(self) -> bool:
        """The reply was cut at `max_tokens` (OpenAI's `finish_reason: "length"`): it did not end."""
        return self.finish_reason == "length"


@runtime_checkable
class ChatModel(Protocol):
    """Anything that can answer an OpenAI-format chat, asynchronously."""

    @property
    def model_id(self) -> str: ...

    async def chat(self, messages: list[Message], params: SamplingParams | None = None) -> Reply: ...

    async def aclose(self) -> None: ...
