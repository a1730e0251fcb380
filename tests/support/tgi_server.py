"""A faithful stand-in for Hugging Face text-generation-inference (TGI 3.x) on loopback.

Every behaviour below was written from TGI's own source, tag v3.3.7 (commit dfb3fbe7), router crate
(Cargo workspace version "3.3.6-dev0"); each comment names the file it comes from:
  router/src/lib.rs           request/response types (ChatRequest, GrammarType, Info, ChatCompletion)
  router/src/server.rs        routes, /info, /health, /v1/models, chat_completions, error -> status map
  router/src/validation.rs    Validation::validate / validate_input and the ValidationError texts
  router/src/infer/mod.rs     the concurrency semaphore (429) and the re-queue of long generations
  launcher/src/main.rs        defaults (max_concurrent_requests 128, max_stop_sequences 4, ...) and the
                              start order (shards warm up before the web server binds its port)
and from the libraries TGI builds on, at the versions its Cargo.lock pins: axum 0.7.9 (the Json
extractor's rejections), serde 1.0.219 (the messages of a failed deserialization), outlines-core
ba10c619 (json_schema::to_regex, run by the router on every JSON grammar).

No model runs: the reply text comes from `content` (a string, or a function of the request body), is
cut to the generation limit with the stand-in tokenizer of tests/support/fake_llm.py, and usage is
counted with that tokenizer.

Not modelled (not confirmable from the router source, or out of scope): streaming (`stream: true`
answers 501, which TGI never does), tool calls (`tools` without response_format is answered as plain
text), stop sequences cutting the reply, the JSON-Schema meta-schema check the router runs with the
Rust `jsonschema` crate (draft 2020-12) before the 'properties' check, regex validity (checked in the
Python shards), /generate and the other routes, LoRA adapters (`model` is echoed, as TGI does).
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
from typing import Any

from aiohttp import web

from tests.support.fake_llm import (
    Content,
    Counters,
    Latency,
    LoopServer,
    json_position,
    object_spans,
    prompt_tokens,
    reply_text,
    token_count,
    truncate_tokens,
)

# router/src/validation.rs: `static DEFAULT_GENERATION_LENGTH: u32 = 1024;` a request generates at most
# this many tokens per scheduling; longer ones are re-queued (router/src/infer/mod.rs).
DEFAULT_GENERATION_LENGTH = 1024

# serde's VARIANTS for GrammarType (router/src/lib.rs: `#[serde(tag = "type", content = "value")]`, variants
# json (alias json_object), regex, json_schema); serde_derive lists a variant's name and aliases sorted.
GRAMMAR_VARIANTS = ("json", "json_object", "regex", "json_schema")

_U32_MAX = 2**32 - 1
_U64_MAX = 2**64 - 1


class _Rejection(Exception):
    """A response decided before generation: (status, body, content type)."""

    def __init__(self, status: int, body: Any, text: bool = False):
        super().__init__(status)
        self.status, self.body, self.text = status, body, text

    def response(self) -> web.Response:
        if self.text:
            return web.Response(status=self.status, text=self.body, content_type="text/plain")
        return web.json_response(self.body, status=self.status)


def _f32(value: float | None) -> float | None:
    """The request's sampling numbers are f32 in router/src/lib.rs (0.99999999 becomes 1.0)."""
    return None if value is None else struct.unpack("f", struct.pack("f", value))[0]


def _infer_error(status: int, message: str, error_type: str) -> _Rejection:
    # router/src/server.rs `impl From<InferError> for (StatusCode, Json<ErrorResponse>)`: the body is
    # ErrorResponse {error: err.to_string(), error_type: err.error_type()} (router/src/lib.rs), no headers.
    return _Rejection(status, {"error": message, "error_type": error_type})


def _validation(message: str) -> _Rejection:
    # router/src/infer/mod.rs: InferError::ValidationError -> "Input validation error: {0}", error_type
    # "validation"; router/src/server.rs maps it to 422 UNPROCESSABLE_ENTITY.
    return _infer_error(422, f"Input validation error: {message}", "validation")


# -- serde / axum deserialization errors --------------------------------------------------------------


def _unexpected(value: Any) -> str:
    """serde's `Unexpected` as serde_json displays it (invalid type: <this>, expected ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value!r}`"
    if isinstance(value, str):
        return f"string {json.dumps(value, ensure_ascii=False)}"
    if isinstance(value, list):
        return "sequence"
    return "map"


class _DataError(Exception):
    """A serde data error at `path`, positioned at `index` in the raw body."""

    def __init__(self, path: str, message: str, index: int):
        super().__init__(message)
        self.path, self.message, self.index = path, message, index


def _check_type(value: Any, kind: str, optional: bool) -> str | None:
    """None if serde would accept `value` for a field of this Rust type, else its error message."""
    if value is None and optional:
        return None
    if kind == "f32":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"invalid type: {_unexpected(value)}, expected f32"
    if kind in ("u32", "u64"):
        top = _U32_MAX if kind == "u32" else _U64_MAX
        if isinstance(value, int) and not isinstance(value, bool):
            return None if 0 <= value <= top else f"invalid value: integer `{value}`, expected {kind}"
        return f"invalid type: {_unexpected(value)}, expected {kind}"
    if kind == "bool":
        return None if isinstance(value, bool) else f"invalid type: {_unexpected(value)}, expected a boolean"
    if kind == "string":
        return None if isinstance(value, str) else f"invalid type: {_unexpected(value)}, expected a string"
    if kind == "strings":
        if not isinstance(value, list):
            return f"invalid type: {_unexpected(value)}, expected a sequence"
        for item in value:
            if not isinstance(item, str):
                return f"invalid type: {_unexpected(item)}, expected a string"
        return None
    if kind == "seq":
        return None if isinstance(value, list) else f"invalid type: {_unexpected(value)}, expected a sequence"
    return None


# router/src/lib.rs `pub(crate) struct ChatRequest`: field -> (Rust type, Option<_>?). `max_tokens` has
# `#[serde(default, alias = "max_completion_tokens")]`; unknown fields are ignored (no deny_unknown_fields),
# so vLLM's `structured_outputs` or `guided_json` pass silently.
_CHAT_FIELDS: dict[str, tuple[str, bool]] = {
    "model": ("string", True),
    "messages": ("seq", False),
    "frequency_penalty": ("f32", True),
    "logprobs": ("bool", True),
    "top_logprobs": ("u32", True),
    "max_tokens": ("u32", True),
    "max_completion_tokens": ("u32", True),
    "n": ("u32", True),
    "presence_penalty": ("f32", True),
    "stop": ("strings", True),
    "stream": ("bool", False),
    "seed": ("u64", True),
    "temperature": ("f32", True),
    "top_p": ("f32", True),
    "tools": ("seq", True),
    "tool_prompt": ("string", True),
}


def _parse_grammar(raw: str, span: tuple[int, int], value: Any) -> tuple[str, Any] | None:
    """router/src/lib.rs GrammarType, deserialized as serde does an adjacently tagged enum
    (`#[serde(tag = "type", content = "value")]`). Returns (variant, value) or raises _DataError."""
    if value is None:  # `response_format: Option<GrammarType>` with #[serde(default)]
        return None
    if not isinstance(value, dict):
        raise _DataError(
            "response_format",
            f"invalid type: {_unexpected(value)}, expected adjacently tagged enum GrammarType",
            span[1],
        )
    spans, end = object_spans(raw, span[0])
    tag = value.get("type")
    if "type" in value:
        tag_end = spans["type"][1]
        if not isinstance(tag, str):
            raise _DataError(
                "response_format", f"invalid type: {_unexpected(tag)}, expected variant identifier", tag_end
            )
        if tag not in GRAMMAR_VARIANTS:
            expected = ", ".join(f"`{v}`" for v in GRAMMAR_VARIANTS)
            raise _DataError("response_format", f"unknown variant `{tag}`, expected one of {expected}", tag_end)
    if "type" not in value:
        raise _DataError("response_format", "missing field `type`", end)
    if "value" not in value:
        # serde_derive (de.rs, adjacently tagged): a newtype variant without its content calls
        # de::missing_field("value"), which fails for String / Value / a struct: "missing field `value`".
        # So OpenAI's {"type": "json_schema", "json_schema": {...}} and a bare {"type": "json_object"} are
        # rejected here, before any validation.
        raise _DataError("response_format", "missing field `value`", end)
    content = value["value"]
    c_start, c_end = spans["value"]
    variant = "json" if tag == "json_object" else tag  # #[serde(rename = "json")] #[serde(alias = "json_object")]
    if variant == "regex" and not isinstance(content, str):  # Regex(String)
        raise _DataError("response_format.value", f"invalid type: {_unexpected(content)}, expected a string", c_end)
    if variant == "json_schema":  # JsonSchema(JsonSchemaConfig {name: Option<String>, schema: Value})
        if not isinstance(content, dict):
            raise _DataError(
                "response_format.value",
                f"invalid type: {_unexpected(content)}, expected struct JsonSchemaConfig",
                c_end,
            )
        inner, inner_end = object_spans(raw, c_start)
        name = content.get("name")
        if name is not None and not isinstance(name, str):
            raise _DataError(
                "response_format.value.name", f"invalid type: {_unexpected(name)}, expected a string", inner["name"][1]
            )
        if "schema" not in content:
            raise _DataError("response_format.value", "missing field `schema`", inner_end)
    return variant, content


def _deserialize(raw: str, body: Any) -> tuple[str, Any] | None:
    """axum 0.7.9 `Json<ChatRequest>`: serde errors become 422 text/plain
    "Failed to deserialize the JSON body into the target type: <path>: <error> at line L column C"
    (axum/src/json.rs with serde_path_to_error; axum-core/src/macros.rs body_text). Returns the grammar."""
    if not isinstance(body, dict):
        raise _DataError("", f"invalid type: {_unexpected(body)}, expected struct ChatRequest", len(raw.rstrip()))
    spans, end = object_spans(raw, 0)
    grammar = None
    seen_max_tokens = False
    for key, value in body.items():
        if key in ("max_tokens", "max_completion_tokens"):
            if seen_max_tokens:
                raise _DataError("", "duplicate field `max_tokens`", spans[key][0])
            seen_max_tokens = True
        if key == "response_format":
            grammar = _parse_grammar(raw, spans[key], value)
        elif key in _CHAT_FIELDS:
            kind, optional = _CHAT_FIELDS[key]
            message = _check_type(value, kind, optional)
            if message is not None:
                raise _DataError(key, message, spans[key][1])
    if "messages" not in body:
        raise _DataError("", "missing field `messages`", end)
    return grammar


# -- outlines-core (rev ba10c619) json_schema::to_regex, as a checker -------------------------------


def _quantifier_error(lo: Any, hi: Any, offset: int) -> str | None:
    # outlines-core src/json_schema/helpers.rs validate_quantifiers: bounds minus offset as NonZeroU64
    # (0 -> None); Option ordering puts None below any value.
    def bound(v: Any) -> int | None:
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            return None  # Value::as_u64 fails: the bound is absent
        return v

    b_lo, b_hi = bound(lo), bound(hi)
    if b_lo is None or b_hi is None:
        return None
    n_lo, n_hi = max(b_lo - offset, 0), max(b_hi - offset, 0)
    key_lo = -1 if n_lo == 0 else n_lo
    key_hi = -1 if n_hi == 0 else n_hi
    return "max bound must be greater than or equal to min bound" if key_hi < key_lo else None


def _as_u64(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def _resolve_ref(ref: str, full: Any) -> Any:
    # outlines-core src/json_schema/parsing.rs parse_ref / resolve_local_ref
    parts = ref.split("#")
    if len(parts) == 1 or (len(parts) == 2 and parts[0] == ""):
        fragment = parts[-1]
    elif len(parts) == 2:
        ident = full.get("$id") if isinstance(full, dict) else None
        if isinstance(ident, str) and parts[0] == ident:
            fragment = parts[1]
        else:
            raise ValueError(f"External references are not supported: {ref}")
    else:
        raise ValueError(f"Invalid reference format: {ref}")
    current = full
    for part in (p for p in fragment.split("/") if p):
        if not isinstance(current, dict) or part not in current:
            raise ValueError(f"Invalid reference path: {part}")
        current = current[part]
    return current


def _outlines_check(schema: Any, full: Any, depth: int = 0) -> None:
    """Raise ValueError with outlines-core's message where its to_regex would fail (rev ba10c619,
    src/json_schema/mod.rs and parsing.rs). Keywords are tried in its order; the first present wins."""
    if depth > 64:  # a recursive $ref: outlines-core would recurse without end; not modelled
        return
    if not isinstance(schema, dict):
        raise ValueError("Invalid JSON Schema: expected an object")
    if not schema:
        return  # EmptyObject: any JSON value
    order = ("properties", "allOf", "anyOf", "oneOf", "prefixItems", "enum", "const", "$ref", "type")
    keyword = next((k for k in order if k in schema), None)
    if keyword is None:
        compact = json.dumps(schema, separators=(",", ":"), ensure_ascii=False)  # serde_json Display
        raise ValueError(
            f"Unsupported JSON Schema structure {compact} \nMake sure it is valid to the JSON Schema "
            "specification and check if it's supported by Outlines.\nIf it should be supported, please open an issue."
        )
    value = schema[keyword]
    if keyword == "properties":
        if not isinstance(value, dict):
            raise ValueError("'properties' not found or not an object")
        for sub in value.values():
            _outlines_check(sub, full, depth + 1)
    elif keyword in ("allOf", "anyOf", "oneOf", "prefixItems"):
        if not isinstance(value, list):
            raise ValueError(f"'{keyword}' must be an array")
        for sub in value:
            _outlines_check(sub, full, depth + 1)
    elif keyword == "enum":
        if not isinstance(value, list):
            raise ValueError("'enum' must be an array")
        for choice in value:
            if isinstance(choice, list | dict):
                raise ValueError(f"Unsupported data type in enum: {choice!r}")  # Rust prints {:?} of a Value
    elif keyword == "const":
        if isinstance(value, list | dict):
            raise ValueError(f"Unsupported data type in const: {value!r}")
    elif keyword == "$ref":
        if not isinstance(value, str):
            raise ValueError("'$ref' must be a string")
        _outlines_check(_resolve_ref(value, full), full, depth + 1)
    else:
        _outlines_check_type(schema, full, depth)


def _outlines_check_type(schema: dict, full: Any, depth: int) -> None:
    kind = schema["type"]
    if not isinstance(kind, str):
        raise ValueError("'type' must be a string")  # parse_type: a list of types is rejected
    if kind == "string":
        if "maxLength" in schema or "minLength" in schema:
            lo, hi = schema.get("minLength"), schema.get("maxLength")
            numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lo, hi))
            if lo is not None and hi is not None and numbers and lo > hi:
                raise ValueError("maxLength must be greater than or equal to minLength")
        elif isinstance(schema.get("pattern"), str):
            pass
        elif isinstance(schema.get("format"), str) and schema["format"] not in ("date-time", "date", "time", "uuid"):
            raise ValueError(f"Format {schema['format']} is not supported by Outlines")  # types.rs FormatType
    elif kind == "number":
        for lo, hi, off in (
            ("minDigitsInteger", "maxDigitsInteger", 1),
            ("minDigitsFraction", "maxDigitsFraction", 0),
            ("minDigitsExponent", "maxDigitsExponent", 0),
        ):
            error = _quantifier_error(schema.get(lo), schema.get(hi), off)
            if error:
                raise ValueError(error)
    elif kind == "integer":
        error = _quantifier_error(schema.get("minDigits"), schema.get("maxDigits"), 1)
        if error:
            raise ValueError(error)
    elif kind == "array":
        max_items = _as_u64(schema.get("maxItems"))
        if (max_items is None or max_items >= 1) and "items" in schema:
            _outlines_check(schema["items"], full, depth + 1)
    elif kind == "object":
        max_props = _as_u64(schema.get("maxProperties"))
        if max_props is not None and max_props < 1:
            return
        extra = schema.get("additionalProperties")
        if extra is not None and extra is not True:
            _outlines_check(extra, full, depth + 1)  # `false` -> "Invalid JSON Schema: expected an object"
    elif kind not in ("boolean", "null"):
        raise ValueError(f"Unsupported type: {kind}")


class TgiServer(LoopServer, Counters):
    """TGI 3.x (v3.3.7) router on 127.0.0.1: GET /info, /health (also /ping and GET /), /v1/models;
    POST /v1/chat/completions (non-streaming). See the module docstring for sources and gaps."""

    def __init__(
        self,
        model_id: str = "tgi-test-model",
        content: Content | None = None,
        *,
        model_sha: str | None = None,
        model_pipeline_tag: str | None = "text-generation",
        max_concurrent_requests: int = 128,
        max_best_of: int = 2,
        max_stop_sequences: int = 4,
        max_top_n_tokens: int = 5,
        max_input_tokens: int = 4095,
        max_total_tokens: int = 4096,
        validation_workers: int = 2,
        max_client_batch_size: int = 4,
        grammar_support: bool = True,
        version: str = "3.3.6-dev0",
        sha: str | None = None,
        docker_label: str | None = None,
        latency_s: float = 0.0,
        prefill_s_per_token: float = 0.0,
        decode_s_per_token: float = 0.0,
        load_delay_s: float = 0.0,
    ):
        # launcher/src/main.rs: web server spawned only after spawn_shards() returns (shards ready and
        # warmed up); router/src/server.rs then binds with TcpListener::bind -> nothing listens before.
        LoopServer.__init__(self, load_delay_s=load_delay_s, prebind=False)
        Counters.__init__(self)
        self.model_id, self.content = model_id, content
        self.model_sha, self.model_pipeline_tag = model_sha, model_pipeline_tag
        # launcher/src/main.rs defaults: max_concurrent_requests 128, max_best_of 2, max_stop_sequences 4,
        # max_top_n_tokens 5, validation_workers 2, max_client_batch_size 4; max_input_tokens and
        # max_total_tokens default to what the model and memory allow (here 4095 / 4096).
        self.max_concurrent_requests = max_concurrent_requests
        self.max_best_of, self.max_stop_sequences = max_best_of, max_stop_sequences
        self.max_top_n_tokens = max_top_n_tokens
        self.max_input_tokens, self.max_total_tokens = max_input_tokens, max_total_tokens
        self.validation_workers, self.max_client_batch_size = validation_workers, max_client_batch_size
        self.grammar_support = grammar_support  # launcher --disable-grammar-support
        # router/src/server.rs Info: version = env!("CARGO_PKG_VERSION") (workspace "3.3.6-dev0" at tag
        # v3.3.7), sha = option_env!("VERGEN_GIT_SHA"), docker_label = option_env!("DOCKER_LABEL").
        self.version, self.sha, self.docker_label = version, sha, docker_label
        self.latency = Latency(latency_s, prefill_s_per_token, decode_s_per_token)
        self.healthy = True
        self._failures: list[tuple[int, str]] = []

    # -- test controls -------------------------------------------------------------------------
    def set(self, **changes: Any) -> None:
        """Change content, latency (latency_s, prefill_s_per_token, decode_s_per_token), limits
        (max_concurrent_requests, max_input_tokens, max_total_tokens, max_stop_sequences, ...), healthy,
        model_id while running."""
        for key, value in changes.items():
            if key in ("latency_s", "prefill_s_per_token", "decode_s_per_token"):
                setattr(self.latency, key, value)
            elif key in (
                "content",
                "model_id",
                "model_sha",
                "max_concurrent_requests",
                "max_best_of",
                "max_stop_sequences",
                "max_top_n_tokens",
                "max_input_tokens",
                "max_total_tokens",
                "grammar_support",
                "healthy",
            ):
                setattr(self, key, value)
            else:
                raise TypeError(f"TgiServer.set: unknown setting {key!r}")

    def fail_next(self, status: int = 424, n: int = 1, message: str = "CUDA error: an injected failure") -> None:
        """The next n admitted chat requests fail as TGI does when generation fails:
        424 `{"error": "Request failed during generation: <message>", "error_type": "generation"}` or
        500 `{"error": "Incomplete generation", "error_type": "incomplete_generation"}`."""
        if status not in (424, 500):
            raise ValueError("TGI's generation failures are 424 (generation) or 500 (incomplete generation)")
        self._failures.extend([(status, message)] * n)

    # -- routes ------------------------------------------------------------------------------------
    def _add_routes(self, app: web.Application) -> None:
        # router/src/server.rs: .route("/", get(health)) .route("/info", get(get_model_info))
        # .route("/health", get(health)) .route("/ping", get(health)) .route("/v1/models", ...)
        # .route("/v1/chat/completions", post(chat_completions))
        app.router.add_get("/info", self._info)
        app.router.add_get("/health", self._health)
        app.router.add_get("/ping", self._health)
        app.router.add_get("/", self._health)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)

    async def _info(self, request: web.Request) -> web.Response:
        # router/src/lib.rs `pub struct Info` (model_dtype and model_device_type are commented out in
        # v3.x, so they are not returned) filled in router/src/server.rs `let info = Info {...}`.
        return web.json_response(
            {
                "model_id": self.model_id,
                "model_sha": self.model_sha,
                "model_pipeline_tag": self.model_pipeline_tag,
                "max_concurrent_requests": self.max_concurrent_requests,
                "max_best_of": self.max_best_of,
                "max_stop_sequences": self.max_stop_sequences,
                "max_input_tokens": self.max_input_tokens,
                "max_total_tokens": self.max_total_tokens,
                "validation_workers": self.validation_workers,
                "max_client_batch_size": self.max_client_batch_size,
                "router": "text-generation-router",  # env!("CARGO_PKG_NAME")
                "version": self.version,
                "sha": self.sha,
                "docker_label": self.docker_label,
            }
        )

    async def _health(self, request: web.Request) -> web.Response:
        # router/src/server.rs health(): Ok(()) -> 200 with an empty body; unhealthy backend -> 503
        # {"error": "unhealthy", "error_type": "healthcheck"}.
        if self.healthy:
            return web.Response(status=200)
        return web.json_response({"error": "unhealthy", "error_type": "healthcheck"}, status=503)

    async def _models(self, request: web.Request) -> web.Response:
        # router/src/server.rs openai_get_model_info(): one ModelInfo {id: model_id, object: "model",
        # created: 0, owned_by: model_id} in ModelsInfo {object: "list", data} (router/src/lib.rs).
        model = {"id": self.model_id, "object": "model", "created": 0, "owned_by": self.model_id}
        return web.json_response({"object": "list", "data": [model]})

    async def _chat(self, request: web.Request) -> web.Response:
        try:
            response = await self._chat_inner(request)
        except _Rejection as r:
            response = r.response()
        self.answered(response.status)
        return response

    async def _chat_inner(self, request: web.Request) -> web.Response:
        raw = await request.text()
        # axum 0.7.9 axum/src/json.rs: Json<T> wants `application/json` or `application/*+json`
        # (MissingJsonContentType -> 415), then serde_json: syntax errors -> 400 JsonSyntaxError, data
        # errors -> 422 JsonDataError; bodies are text/plain "<rejection text>: <serde error>".
        mime = request.content_type or ""
        if not (mime == "application/json" or (mime.startswith("application/") and mime.endswith("+json"))):
            raise _Rejection(415, "Expected request with `Content-Type: application/json`", text=True)
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as e:
            message = e.msg[:1].lower() + e.msg[1:]  # serde_json's wording differs; position kept
            raise _Rejection(
                400,
                f"Failed to parse the request body as JSON: {message} at line {e.lineno} column {e.colno}",
                text=True,
            ) from None
        index = self.received(body)
        try:
            grammar = _deserialize(raw, body)
        except _DataError as e:
            line, column = json_position(raw, e.index)
            path = f"{e.path}: " if e.path else ""
            raise _Rejection(
                422,
                f"Failed to deserialize the JSON body into the target type: {path}{e.message} "
                f"at line {line} column {column}",
                text=True,
            ) from None
        if body.get("stream"):
            raise _Rejection(501, "streaming is not modelled by the test server", text=True)
        # router/src/lib.rs ChatRequest::try_into_generate: response_format and tools together ->
        # InferError::ToolError("Grammar and tools are mutually exclusive") -> 422, error_type "tool_error".
        if grammar is not None and body.get("tools") is not None:
            raise _infer_error(422, "Tool error: Grammar and tools are mutually exclusive", "tool_error")
        # router/src/infer/mod.rs generate_stream(): the semaphore of max_concurrent_requests permits is
        # taken with try_acquire_owned() *before* validation; no permit -> InferError::Overloaded
        # ("Model is overloaded", error_type "overloaded") -> 429 TOO_MANY_REQUESTS at once, no header.
        if self.in_flight >= self.max_concurrent_requests:
            raise _infer_error(429, "Model is overloaded", "overloaded")
        self.admit()
        try:
            return await self._generate(body, grammar, index)
        finally:
            self.release()

    async def _generate(self, body: dict, grammar: tuple[str, Any] | None, index: int) -> web.Response:
        start = time.monotonic()
        messages = body["messages"]
        n_prompt = prompt_tokens(messages)
        chunk, total_new = self._validate(body, n_prompt)
        mode = self._validate_grammar(grammar)
        self.structured[index] = mode
        if self._failures:
            status, message = self._failures.pop(0)
            if status == 424:  # InferError::GenerationError -> FAILED_DEPENDENCY
                raise _infer_error(424, f"Request failed during generation: {message}", "generation")
            raise _infer_error(500, "Incomplete generation", "incomplete_generation")

        text = reply_text(self.content, body)
        generated, finish = self._generation_length(token_count(text), n_prompt, body, chunk, total_new)
        text = truncate_tokens(text, generated) if finish == "length" else text
        await asyncio.sleep(self.latency.seconds(n_prompt, generated, self.in_flight))

        # router/src/server.rs chat_completions(): model = request `model` unless absent or "tgi";
        # system_fingerprint = "{version}-{docker_label or 'native'}"; router/src/lib.rs ChatCompletion::new:
        # id "", one choice, logprobs null unless asked, finish_reason FinishReason::format(true)
        # (eos_token -> "stop", length -> "length"); usage from the first validation's input length.
        model = body.get("model")
        model = self.model_id if model in (None, "tgi") else model
        reply = {
            "object": "chat.completion",  # CompletionType is #[serde(tag = "object")]
            "id": "",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": f"{self.version}-{self.docker_label or 'native'}",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": {"prompt_tokens": n_prompt, "completion_tokens": generated, "total_tokens": n_prompt + generated},
        }
        # router/src/server.rs generate_internal(): the x-* headers of every successful generation.
        total_ms = int((time.monotonic() - start) * 1000)
        headers = {
            "x-compute-type": "gpu+optimized",  # COMPUTE_TYPE, default "gpu+optimized"
            "x-compute-time": str(total_ms / 1000),
            "x-compute-characters": str(sum(len(json.dumps(m)) for m in messages)),  # ~ templated prompt
            "x-total-time": str(total_ms),
            "x-validation-time": "0",
            "x-queue-time": "0",
            "x-inference-time": str(total_ms),
            "x-time-per-token": str(total_ms // max(1, generated)),
            "x-prompt-tokens": str(n_prompt),
            "x-generated-tokens": str(generated),
        }
        return web.json_response(reply, headers=headers)

    # -- validation (router/src/validation.rs Validation::validate, in its order) ---------------------
    def _validate(self, body: dict, n_prompt: int) -> tuple[int, int]:
        # router/src/lib.rs try_into_generate: temperature 0.0 -> greedy (do_sample false, temperature
        # None); presence_penalty p -> repetition_penalty p + 2.0; max_tokens -> max_new_tokens;
        # top_logprobs -> top_n_tokens; best_of, top_k, typical_p, truncate are None for chat.
        temperature = _f32(body.get("temperature"))
        if temperature == 0.0:
            temperature = None
        if (1.0 if temperature is None else temperature) <= 0.0:
            raise _validation("`temperature` must be strictly positive")
        presence = _f32(body.get("presence_penalty"))
        if presence is not None and presence + 2.0 <= 0.0:
            raise _validation("`repetition_penalty` must be strictly positive")
        frequency = _f32(body.get("frequency_penalty"))
        if not -2.0 <= (0.0 if frequency is None else frequency) <= 2.0:
            raise _validation("`frequency_penalty` must be >= -2.0 and <= 2.0")
        top_p = _f32(body.get("top_p"))
        if top_p is not None and (top_p <= 0.0 or top_p >= 1.0):
            raise _validation("`top_p` must be > 0.0 and < 1.0")
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        if max_tokens == 0:
            raise _validation("`max_new_tokens` must be strictly positive")
        stop = body.get("stop") or []
        if len(stop) > self.max_stop_sequences:
            raise _validation(f"`stop` supports up to {self.max_stop_sequences} stop sequences. Given: {len(stop)}")
        top_n = body.get("top_logprobs")
        if top_n is not None and top_n > self.max_top_n_tokens:
            raise _validation(f"`top_n_tokens` must be >= 0 and <= {self.max_top_n_tokens}. Given: {top_n}")
        return self._validate_input(n_prompt, max_tokens)

    def _validate_input(self, input_length: int, max_tokens: int | None) -> tuple[int, int]:
        # router/src/validation.rs validate_input(): a given max_new_tokens is checked as
        # min(max_new_tokens, 1024) (the rest is generated by re-queueing); none -> max_total_tokens -
        # input_length. MaxTotalTokens is checked before InputLength.
        if max_tokens is not None:
            chunk, total_new = min(max_tokens, DEFAULT_GENERATION_LENGTH), max_tokens
        else:
            total_new = max(self.max_total_tokens - input_length, 0)
            chunk = min(total_new, DEFAULT_GENERATION_LENGTH)
        if input_length + chunk > self.max_total_tokens:
            raise _validation(
                f"`inputs` tokens + `max_new_tokens` must be <= {self.max_total_tokens}. "
                f"Given: {input_length} `inputs` tokens and {chunk} `max_new_tokens`"
            )
        if input_length > self.max_input_tokens:
            raise _validation(f"`inputs` must have less than {self.max_input_tokens} tokens. Given: {input_length}")
        return chunk, total_new

    def _validate_grammar(self, grammar: tuple[str, Any] | None) -> str | None:
        if grammar is None:
            return None
        if not self.grammar_support:
            raise _validation("grammar is not supported")
        variant, value = grammar
        if variant == "regex":
            return "grammar-regex"  # GrammarType::Regex passes as is
        if variant == "json":
            if isinstance(value, str):  # a string is parsed again as JSON
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as e:
                    raise _validation(f"grammar is not valid: {e}") from None
            elif not isinstance(value, dict):
                raise _validation("grammar is not supported")  # ValidationError::Grammar
            schema = value
        else:
            schema = value["schema"]  # JsonSchemaConfig.schema
        # (The jsonschema draft 2020-12 meta-schema check comes here in TGI; not modelled.)
        if not isinstance(schema, dict) or "properties" not in schema:
            raise _validation("grammar is not valid: Grammar must have a 'properties' field")
        try:
            _outlines_check(schema, schema)  # json_schema_to_regex(&json, None, &json)
        except ValueError as e:
            raise _validation(f"cannot compile regex from schema: {e}") from None
        return "grammar-json" if variant == "json" else "grammar-json_schema"

    def _generation_length(
        self, n_reply: int, input_length: int, body: dict, chunk: int, total_new: int
    ) -> tuple[int, str]:
        """Tokens generated and finish_reason, with TGI's re-queueing (router/src/infer/mod.rs
        generate_stream): a generation that ends for Length with fewer than max_total_new_tokens generated
        is validated again with the generated text appended and scheduled for another chunk; a failed
        validation ends it. The reply's end is the EOS token (finish "stop")."""
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        generated = 0
        while True:
            if chunk <= 0:
                return generated, "length"
            if n_reply - generated <= chunk:
                return n_reply, "stop"
            generated += chunk
            if generated >= total_new:
                return generated, "length"
            grown = input_length + generated
            if max_tokens is not None:
                chunk = min(max_tokens, DEFAULT_GENERATION_LENGTH)  # the request still carries max_tokens
            else:
                chunk = min(max(self.max_total_tokens - grown, 0), DEFAULT_GENERATION_LENGTH)
            if grown + chunk > self.max_total_tokens or grown > self.max_input_tokens:
                return generated, "length"
