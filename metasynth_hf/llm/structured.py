"""Structured output differs per server; pick the dialect each endpoint understands.

- TGI: `{"type": "json_object", "value": schema}` (its grammar parameter).
- llama.cpp (C++ server and llama-cpp-python): `{"type": "json_object", "schema": schema}`.
- other OpenAI-compatible servers (vLLM, ...): huggingface_hub rewrites `json_schema` into TGI's
  form, so we ask for plain JSON mode `{"type": "json_object"}`; the prompt describes the shape.
- a server that rejects a response_format with 400/422 is switched to "none" for good
  (metasynth_hf.llm.endpoints), and the request is sent again without it.
- "none": no response_format at all.
Replies are always parsed tolerantly (metasynth_hf.llm.parsing), whatever the dialect.
"""

from __future__ import annotations

import logging
from typing import Any

from metasynth_hf.llm.http import httpx, new_async_client

logger = logging.getLogger(__name__)


def response_format_for(kind: str, schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if schema is None or kind == "none":
        return None
    if kind == "tgi":
        return {"type": "json_object", "value": schema}
    if kind == "llamacpp":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_object"}


async def get_json(client: httpx.AsyncClient, url: str) -> Any:
    try:
        response = await client.get(url, timeout=5.0)
    except (httpx.HTTPError, OSError):
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


async def detect_server_kind(base_url: str) -> str:
    """Probe once per endpoint: TGI's /info, llama.cpp's /props, llama-cpp-python's models list."""
    async with new_async_client() as client:
        info = await get_json(client, f"{base_url}/info")
        if (
            isinstance(info, dict)
            and "model_id" in info
            and ({"router", "max_input_tokens", "max_input_length"} & info.keys())
        ):
            return "tgi"
        props = await get_json(client, f"{base_url}/props")
        if isinstance(props, dict) and "default_generation_settings" in props:
            return "llamacpp"
        models = await get_json(client, f"{base_url}/v1/models")
        data = models.get("data") if isinstance(models, dict) else None
        first = data[0] if isinstance(data, list) and data else None
        if isinstance(first, dict) and first.get("owned_by") in {"me", "llamacpp"}:
            return "llamacpp"
    return "openai"
