"""Typed settings of the LLM layer: endpoints, retries, and which backend serves a role."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from metasynth_hf.config_io import StrictConfig

#: The placeholder model name of an endpoint (TGI ignores the field).
DEFAULT_MODEL = "tgi"
ServerKind = Literal["auto", "tgi", "vllm", "sglang", "llamacpp", "openai", "none"]


class EndpointConfig(StrictConfig):
    """One OpenAI-compatible server (TGI, vLLM, llama.cpp, ...)."""

    url: str = Field(description="Base URL, e.g. http://10.0.0.5:8080 (the /v1 path is added).")
    model: str = Field(
        "tgi",
        description="Model name sent in the request; TGI ignores it, and with the default the model a "
        "server lists as its only one is sent (vLLM refuses names it does not serve).",
    )
    max_concurrency: int | None = Field(
        None,
        ge=1,
        description="Requests in flight on this endpoint at most (default: what the server states, TGI's "
        "max_concurrent_requests shared among the run's shards, else the run's lanes); lowered while it is overloaded.",
    )
    timeout_s: float = Field(300.0, gt=0, description="Per-request timeout in seconds.")
    server_kind: ServerKind = Field(
        "auto", description="Server dialect (structured output, limits); 'auto' asks the server once."
    )
    api_key_env: str | None = Field(
        None,
        description="Environment variable holding this endpoint's key (default: the HF token, sent only to Hugging Face hosts).",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {value!r}")
        value = value.rstrip("/")
        return value[: -len("/v1")] if value.endswith("/v1") else value


class RetryConfig(StrictConfig):
    """Retry budget: exponential backoff with full jitter, capped in attempts and in time."""

    max_attempts: int = Field(6, ge=1)
    base_delay_s: float = Field(0.5, ge=0)
    max_delay_s: float = Field(30.0, ge=0)
    budget_s: float = Field(600.0, gt=0, description="Wall-clock deadline of one call, all attempts included.")
    failures_to_cooldown: int = Field(
        3, ge=1, description="Consecutive failures (without Retry-After) that bench an endpoint."
    )
    cooldown_s: float = Field(
        1.0, ge=0, description="First rest of a benched endpoint before a probe; doubles per failed probe."
    )
    max_cooldown_s: float = Field(
        30.0, ge=0, description="Longest rest of a benched endpoint (never past the retry budget)."
    )
    startup_timeout_s: float = Field(
        120.0,
        ge=0,
        description="How long to wait, before the first call, for servers that refuse connections "
        "(TGI and vLLM open their port only once the model is loaded).",
    )


class ModelConfig(StrictConfig):
    """Who answers one role's calls: the embedded model, or a pool of endpoints."""

    model: str = Field(
        "smollm2",
        description="Embedded model (llama.cpp): 'smollm2' or a path to a .gguf file. "
        "With endpoints: a label for provenance and caching (defaults to the endpoints' model).",
    )
    endpoints: tuple[EndpointConfig, ...] = ()
    retry: RetryConfig = Field(default_factory=RetryConfig)
    parallel: int = Field(
        8, ge=1, le=256, description="Embedded model: requests decoded together (llama.cpp sequences)."
    )
    context_tokens: int = Field(
        4096, ge=256, description="Embedded model: context length of each sequence (prompt + reply)."
    )
    grammar: bool = Field(True, description="Embedded model: decode calls that carry a JSON schema under its grammar.")
    threads: int | None = Field(
        None, ge=1, description="Embedded model: llama.cpp threads (default: the cores this process may use)."
    )

    @property
    def backend(self) -> Literal["local", "endpoints"]:
        return "endpoints" if self.endpoints else "local"

    @model_validator(mode="after")
    def _unique_urls(self) -> ModelConfig:
        urls = [e.url for e in self.endpoints]
        if len(urls) != len(set(urls)):
            raise ValueError(f"endpoints: each url must appear once, got {urls}")
        return self
