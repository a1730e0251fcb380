"""What kind of server an endpoint is, how it takes a structured call, and what limits it states.

One `Dialect` per server kind, registered in `DIALECTS` (a new kind is one class and one line).
Each is written from that server's own source; huggingface_hub's client rewrites OpenAI's
`json_schema` response format into TGI's, so servers that want the OpenAI form get their
native body field instead:

| kind | structured call | limits read |
|---|---|---|
| tgi | `response_format: {"type": "json_object", "value": schema}`, the schema flattened to one object with top-level `properties` (router/src/validation.rs refuses any JSON grammar without them) | `/info`: max_concurrent_requests, max_input_tokens, max_total_tokens, max_stop_sequences |
| vllm | `structured_outputs: {"json": schema}` (vLLM >= 0.10.2; the body field, as huggingface_hub leaves it alone) | `/v1/models`: max_model_len |
| llamacpp | `response_format: {"type": "json_object", "schema": schema}` (C++ server and llama-cpp-python) | `/props`: n_ctx |
| sglang | JSON mode `{"type": "json_object"}`; the prompt describes the shape | `/v1/models`: max_model_len |
| openai | JSON mode `{"type": "json_object"}` (Inference Endpoints router, other servers) | none |
| none | no response_format at all | none |

Replies are always parsed tolerantly (metasynth_hf.llm.parsing), whatever the dialect.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from metasynth_hf.llm.base import SamplingParams
from metasynth_hf.llm.http import httpx, new_async_client


class RequestNotAdmitted(ValueError):
    """A request this server refuses whatever the retries: said before it is sent."""


@dataclass(frozen=True)
class ServerLimits:
    """What a server says it admits; None where it says nothing."""

    max_concurrent_requests: int | None = None
    max_input_tokens: int | None = None
    max_total_tokens: int | None = None  # prompt + reply (TGI max_total_tokens, vLLM max_model_len)
    max_stop_sequences: int | None = None

    def to_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Probe:
    """What a server answered about itself (None where the route did not answer JSON)."""

    info: Any = None  # TGI /info
    props: Any = None  # llama.cpp /props
    models: Any = None  # OpenAI /v1/models

    def first_model(self) -> dict[str, Any]:
        data = self.models.get("data") if isinstance(self.models, dict) else None
        first = data[0] if isinstance(data, list) and data else None
        return first if isinstance(first, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


@dataclass(frozen=True)
class Dialect:
    """The plain OpenAI-compatible server: JSON mode, no limits stated."""

    name: str = "openai"
    #: How a structured call is sent, in words (run summary, README table).
    mode: str = "JSON mode (schema in the prompt only)"
    constrains: bool = False  # does the server decode under the schema itself?

    def matches(self, probe: Probe) -> bool:
        return True

    def limits(self, probe: Probe) -> ServerLimits:
        return ServerLimits()

    def request(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments of `chat_completion` that carry `schema`."""
        return {"response_format": {"type": "json_object"}}

    def sampling(self, params: SamplingParams, limits: ServerLimits) -> dict[str, Any]:
        """Keyword arguments of `chat_completion` for `params`, within this server's rules; a
        request the server would refuse whatever we do raises RequestNotAdmitted before sending."""
        if limits.max_stop_sequences is not None and len(params.stop) > limits.max_stop_sequences:
            raise RequestNotAdmitted(
                f"{len(params.stop)} stop sequences, the server admits {limits.max_stop_sequences} "
                "(TGI --max-stop-sequences); raise it on the server or send fewer"
            )
        return {
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": params.seed,
            "stop": list(params.stop) or None,
        }


@dataclass(frozen=True)
class TgiDialect(Dialect):
    name: str = "tgi"
    mode: str = "grammar: JSON schema flattened to one object"
    constrains: bool = True

    def matches(self, probe: Probe) -> bool:
        info = probe.info
        keys = {"router", "max_input_tokens", "max_input_length", "max_concurrent_requests"}
        return isinstance(info, dict) and "model_id" in info and bool(keys & info.keys())

    def limits(self, probe: Probe) -> ServerLimits:
        info = probe.info if isinstance(probe.info, dict) else {}
        return ServerLimits(
            max_concurrent_requests=_int(info.get("max_concurrent_requests")),
            max_input_tokens=_int(info.get("max_input_tokens") or info.get("max_input_length")),
            max_total_tokens=_int(info.get("max_total_tokens")),
            max_stop_sequences=_int(info.get("max_stop_sequences")),
        )

    def request(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {"response_format": {"type": "json_object", "value": flatten_schema(schema)}}

    def sampling(self, params: SamplingParams, limits: ServerLimits) -> dict[str, Any]:
        kwargs = super().sampling(params, limits)
        # router/src/validation.rs: `top_p` must be > 0.0 and < 1.0; 1.0 means no nucleus cut,
        # which is what leaving it out asks for.
        if params.top_p >= 1.0:
            kwargs["top_p"] = None
        return kwargs


@dataclass(frozen=True)
class VllmDialect(Dialect):
    name: str = "vllm"
    mode: str = "structured_outputs.json (the schema)"
    constrains: bool = True

    def matches(self, probe: Probe) -> bool:
        return self.probe_owner(probe) == "vllm"

    @staticmethod
    def probe_owner(probe: Probe) -> str:
        return str(probe.first_model().get("owned_by", ""))

    def limits(self, probe: Probe) -> ServerLimits:
        return ServerLimits(max_total_tokens=_int(probe.first_model().get("max_model_len")))

    def request(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {"extra_body": {"structured_outputs": {"json": schema}}}


@dataclass(frozen=True)
class SglangDialect(VllmDialect):
    name: str = "sglang"
    mode: str = "JSON mode (schema in the prompt only)"
    constrains: bool = False

    def matches(self, probe: Probe) -> bool:
        return self.probe_owner(probe) == "sglang"

    def request(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {"response_format": {"type": "json_object"}}


@dataclass(frozen=True)
class LlamaCppDialect(Dialect):
    name: str = "llamacpp"
    mode: str = "response_format.schema (the schema)"
    constrains: bool = True

    def matches(self, probe: Probe) -> bool:
        if isinstance(probe.props, dict) and "default_generation_settings" in probe.props:
            return True
        return probe.first_model().get("owned_by") in {"me", "llamacpp"}

    def limits(self, probe: Probe) -> ServerLimits:
        props = probe.props if isinstance(probe.props, dict) else {}
        settings = props.get("default_generation_settings")
        n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
        return ServerLimits(max_total_tokens=_int(n_ctx))

    def request(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {"response_format": {"type": "json_object", "schema": schema}}


@dataclass(frozen=True)
class PlainDialect(Dialect):
    name: str = "none"
    mode: str = "off (plain requests)"

    def matches(self, probe: Probe) -> bool:
        return False

    def request(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {}


#: Detection order: the first that matches a probe wins ("openai" matches everything).
DIALECTS: dict[str, Dialect] = {
    d.name: d for d in (TgiDialect(), VllmDialect(), SglangDialect(), LlamaCppDialect(), Dialect(), PlainDialect())
}


def flatten_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """One object schema with top-level `properties` for a schema that is a choice of objects.

    TGI compiles JSON grammars with outlines-core and refuses one without top-level `properties`
    (router/src/validation.rs), so `{"anyOf": [call, final]}` becomes one object: the union of
    the branches' properties (a key's `const`s in several branches become one `enum`), required
    what every branch requires. The result admits every reply the original admits.
    """
    if "properties" in schema:
        return schema
    branches = schema.get("anyOf") or schema.get("oneOf")
    if not isinstance(branches, list) or not all(isinstance(b, dict) and "properties" in b for b in branches):
        return schema
    properties: dict[str, Any] = {}
    for branch in branches:
        for key, spec in branch["properties"].items():
            if key not in properties:
                properties[key] = copy.deepcopy(spec)
            elif "const" in spec and ("const" in properties[key] or "enum" in properties[key]):
                known = properties[key].pop("enum", None) or [properties[key].pop("const")]
                properties[key]["enum"] = known + [spec["const"]] if spec["const"] not in known else known
    required = [k for k in branches[0].get("required", []) if all(k in b.get("required", []) for b in branches)]
    for spec in properties.values():  # a const merged into an enum: a string enum
        if "enum" in spec and all(isinstance(v, str) for v in spec["enum"]):
            spec.setdefault("type", "string")
    return {"type": "object", "properties": properties, "required": required}


async def get_json(client: httpx.AsyncClient, url: str, timeout_s: float = 5.0) -> Any:
    try:
        response = await client.get(url, timeout=timeout_s)
    except (httpx.HTTPError, OSError):
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


async def probe_server(base_url: str, timeout_s: float = 5.0) -> Probe:
    """Ask a server about itself: TGI's /info, llama.cpp's /props, the OpenAI models list."""
    async with new_async_client() as client:
        info = await get_json(client, f"{base_url}/info", timeout_s)
        props = None if isinstance(info, dict) else await get_json(client, f"{base_url}/props", timeout_s)
        models = await get_json(client, f"{base_url}/v1/models", timeout_s)
    return Probe(info=info, props=props, models=models)


def detect(probe: Probe) -> Dialect:
    return next(d for d in DIALECTS.values() if d.matches(probe))
