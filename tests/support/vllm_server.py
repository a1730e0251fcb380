"""A faithful stand-in for the vLLM OpenAI-compatible server (vLLM 0.12.0) on loopback.

Every behaviour below was written from vLLM's own source at tag v0.12.0 (commit 4fd9d6a8); each comment
names the file:
  vllm/entrypoints/openai/protocol.py       ChatCompletionRequest, ResponseFormat, ErrorResponse, ModelCard
  vllm/entrypoints/openai/api_server.py     routes (/health, /v1/models, /version), exception handlers,
                                            the socket bound before the engine starts
  vllm/entrypoints/openai/serving_chat.py   create_chat_completion: the order of checks, error wrapping
  vllm/entrypoints/openai/serving_engine.py create_error_response, _check_model, _validate_input
  vllm/entrypoints/openai/serving_models.py show_available_models
  vllm/entrypoints/utils.py                 get_max_tokens
  vllm/sampling_params.py                   StructuredOutputsParams, SamplingParams._verify_args
  vllm/v1/engine/input_processor.py         _validate_structured_output
  vllm/v1/structured_output/request.py      an all-None StructuredOutputsParams means no constraint
  vllm/v1/engine/async_llm.py, exceptions.py  EngineGenerateError / EngineDeadError -> 500
  vllm/engine/arg_utils.py                  max_num_seqs default (256; 1024 on >= 70 GiB GPUs)

Request validation (HTTP 400, FastAPI's RequestValidationError handler) runs pydantic on small models
written here after protocol.py's fields, types and `mode="before"` validators; the message is
FastAPI's str(exc) and str(exc.errors()) as vLLM's handler joins them (its exact text depends on the
FastAPI and pydantic versions installed, which vLLM does not pin).

Not modelled: streaming (`stream: true` answers 501, which vLLM never does), tool calling and tool
parsers (requests with tools and tool_choice "none" are answered as plain text), stop strings,
whether xgrammar / llguidance accept a given schema, regex or grammar (the default backend "auto"
falls back from xgrammar to guidance, which accepts nearly everything), chat templates, LoRA models.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.dataclasses import dataclass

from tests.support.fake_llm import (
    Content,
    Counters,
    Latency,
    LoopServer,
    prompt_tokens,
    reply_text,
    token_count,
    truncate_tokens,
)

# vllm/v1/engine/exceptions.py EngineDeadError
ENGINE_DEAD_MESSAGE = "EngineCore encountered an issue. See stack trace (above) for the root cause."
_SAMPLING_EPS = 1e-5  # vllm/sampling_params.py
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1  # protocol.py: torch.iinfo(torch.long) bounds of `seed`


def _random_uuid() -> str:
    # vllm/utils/__init__.py random_uuid(): 16 hex characters
    return f"{uuid.uuid4().int & (2**64 - 1):016x}"


# -- request models (vllm/entrypoints/openai/protocol.py, v0.12.0) -------------------------------------
class _OpenAIBaseModel(BaseModel):
    model_config = ConfigDict(extra="allow")  # "OpenAI API does allow extra fields": unknown keys ignored


class JsonSchemaResponseFormat(_OpenAIBaseModel):
    name: str
    description: str | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class LegacyStructuralTag(_OpenAIBaseModel):
    begin: str
    structural_tag_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    end: str


class LegacyStructuralTagResponseFormat(_OpenAIBaseModel):
    type: Literal["structural_tag"]
    structures: list[LegacyStructuralTag]
    triggers: list[str]


class StructuralTagResponseFormat(_OpenAIBaseModel):
    type: Literal["structural_tag"]
    format: Any


class ResponseFormat(_OpenAIBaseModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaResponseFormat | None = None


AnyResponseFormat = ResponseFormat | StructuralTagResponseFormat | LegacyStructuralTagResponseFormat

_CONSTRAINTS = ("json", "regex", "choice", "grammar", "json_object", "structural_tag")


@dataclass
class StructuredOutputsParams:
    # vllm/sampling_params.py (a pydantic dataclass): one constraint, checked in __post_init__.
    json: str | dict | None = None
    regex: str | None = None
    choice: list[str] | None = None
    grammar: str | None = None
    json_object: bool | None = None
    disable_fallback: bool = False
    disable_any_whitespace: bool = False
    disable_additional_properties: bool = False
    whitespace_pattern: str | None = None
    structural_tag: str | None = None
    _backend: str | None = field(default=None, init=False)
    _backend_was_auto: bool = field(default=False, init=False)

    def __post_init__(self):
        if sum(getattr(self, k) is not None for k in _CONSTRAINTS) > 1:
            raise ValueError(
                "You can only use one kind of structured outputs constraint "
                f"but multiple are specified: {self.__dict__}"
            )

    def constraint(self) -> str | None:
        # vllm/v1/structured_output/request.py get_structured_output_key: json, json_object, regex,
        # choice, grammar, structural_tag, in this order; all None -> no structured output request.
        for key in ("json", "json_object", "regex", "choice", "grammar", "structural_tag"):
            value = getattr(self, key)
            if value is not None and (key != "json_object" or value):
                return key
        return None


class ChatCompletionRequest(_OpenAIBaseModel):
    """The fields of protocol.py's ChatCompletionRequest this server reads (types and defaults as
    there; `messages` is looser: vLLM's message TypedDicts are not mirrored)."""

    messages: list[dict[str, Any]]
    model: str | None = None
    frequency_penalty: float | None = 0.0
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = False
    top_logprobs: int | None = 0
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int | None = 1
    presence_penalty: float | None = 0.0
    response_format: AnyResponseFormat | None = None
    seed: int | None = Field(None, ge=_LONG_MIN, le=_LONG_MAX)
    stop: str | list[str] | None = []
    stream: bool | None = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = "none"
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    min_tokens: int = 0
    ignore_eos: bool = False
    structured_outputs: StructuredOutputsParams | None = None

    @model_validator(mode="before")
    @classmethod
    def validate_stream_options(cls, data):
        if isinstance(data, dict) and data.get("stream_options") and not data.get("stream"):
            raise ValueError("Stream options can only be defined when `stream=True`.")
        return data

    @model_validator(mode="before")
    @classmethod
    def check_logprobs(cls, data):
        if not isinstance(data, dict):
            return data
        top_logprobs = data.get("top_logprobs")
        if isinstance(top_logprobs, int):
            if top_logprobs < 0 and top_logprobs != -1:
                raise ValueError("`top_logprobs` must be a positive value or -1.")
            if (top_logprobs == -1 or top_logprobs > 0) and not data.get("logprobs"):
                raise ValueError("when using `top_logprobs`, `logprobs` must be set to true.")
        return data

    @model_validator(mode="before")
    @classmethod
    def check_structured_outputs_count(cls, data):
        if not isinstance(data, dict) or not isinstance(data.get("structured_outputs"), dict):
            return data
        kwargs = data["structured_outputs"]
        if sum(kwargs.get(k) is not None for k in ("json", "regex", "choice")) > 1:
            raise ValueError(
                "You can only use one kind of constraints for structured outputs ('json', 'regex' or 'choice')."
            )
        return data

    @model_validator(mode="before")
    @classmethod
    def check_tool_usage(cls, data):
        if not isinstance(data, dict):
            return data
        if "tool_choice" not in data and data.get("tools"):
            data["tool_choice"] = "auto"
        if data.get("tool_choice", "none") in ("none", None):
            return data
        if data.get("tools") is None:
            raise ValueError("When using `tool_choice`, `tools` must be set.")
        return data


def _validation_message(errors: list[dict]) -> str:
    # vllm/entrypoints/openai/api_server.py validation_exception_handler: message = f"{str(exc)}
    # {str(exc.errors())}" when they differ, else str(exc). FastAPI prefixes each loc with "body".
    errors_str = str(errors)
    try:
        from fastapi.exceptions import RequestValidationError
    except ImportError:
        return errors_str
    exc_str = str(RequestValidationError(errors))
    return f"{exc_str} {errors_str}" if errors and exc_str != errors_str else exc_str


class _Error(Exception):
    def __init__(self, status: int, message: str, err_type: str):
        super().__init__(message)
        self.status, self.message, self.err_type = status, message, err_type

    def response(self) -> web.Response:
        # protocol.py ErrorResponse {error: ErrorInfo {message, type, param: None, code}}.
        body = {"error": {"message": self.message, "type": self.err_type, "param": None, "code": self.status}}
        return web.json_response(body, status=self.status)


def _bad_request(message: str) -> _Error:
    # serving_engine.py create_error_response(): err_type "BadRequestError", 400 by default.
    return _Error(400, message, "BadRequestError")


def _http_exception(status: int, detail: str) -> _Error:
    # api_server.py http_exception_handler: type = HTTPStatus(code).phrase, e.g. "Internal Server Error".
    from http import HTTPStatus

    return _Error(status, detail, HTTPStatus(status).phrase)


class VllmServer(LoopServer, Counters):
    """vLLM 0.12 OpenAI server on 127.0.0.1: GET /health, /version, /v1/models; POST /v1/chat/completions
    (non-streaming). Requests beyond `max_num_seqs` wait (vLLM queues, it never answers 429)."""

    def __init__(
        self,
        model_id: str = "vllm-test-model",
        content: Content | None = None,
        *,
        max_model_len: int = 4096,
        max_num_seqs: int = 256,
        root: str | None = None,
        version: str = "0.12.0",
        enable_auto_tool_choice: bool = False,
        latency_s: float = 0.0,
        prefill_s_per_token: float = 0.0,
        decode_s_per_token: float = 0.0,
        load_delay_s: float = 0.0,
    ):
        # api_server.py setup_server() -> create_server_socket(): socket bound (SO_REUSEADDR) but not
        # listening *before* build_async_engine_client(); uvicorn listens only once the engine is up
        # (run_server_worker -> serve_http). While the model loads, connect() is refused.
        LoopServer.__init__(self, load_delay_s=load_delay_s, prebind=True)
        Counters.__init__(self)
        self.model_id, self.content = model_id, content
        self.root = root or model_id  # serving_models.py: ModelCard.root = base_model.model_path
        self.max_model_len, self.max_num_seqs = max_model_len, max_num_seqs
        self.version = version  # api_server.py show_version(): {"version": VLLM_VERSION}
        self.enable_auto_tool_choice = enable_auto_tool_choice
        self.latency = Latency(latency_s, prefill_s_per_token, decode_s_per_token)
        self.dead = False
        self.waiting = 0  # requests queued behind max_num_seqs running ones
        self._failures: list[tuple[int, str]] = []
        self._slots: asyncio.Condition | None = None

    def _on_loop_start(self) -> None:
        self._slots = asyncio.Condition()

    # -- test controls -----------------------------------------------------------------------------
    def set(self, **changes: Any) -> None:
        """Change content, latency (latency_s, prefill_s_per_token, decode_s_per_token), max_model_len,
        max_num_seqs, model_id, dead (EngineDeadError: every request 500, /health 503) while running."""
        for key, value in changes.items():
            if key in ("latency_s", "prefill_s_per_token", "decode_s_per_token"):
                setattr(self.latency, key, value)
            elif key in ("content", "model_id", "max_model_len", "max_num_seqs", "dead", "enable_auto_tool_choice"):
                setattr(self, key, value)
            else:
                raise TypeError(f"VllmServer.set: unknown setting {key!r}")
        if "max_num_seqs" in changes:
            self.call_in_loop(lambda: asyncio.ensure_future(self._wake()))

    def fail_next(self, status: int = 500, n: int = 1, message: str = "") -> None:
        """The next n admitted chat requests fail as vLLM does when the engine raises during generation:
        async_llm.py wraps it in EngineGenerateError() (empty message), serving_chat does not catch it,
        api_server.py create_chat_completion turns it into HTTPException(500, str(e)):
        `{"error": {"message": "", "type": "Internal Server Error", "param": null, "code": 500}}`."""
        self._failures.extend([(status, message)] * n)

    # -- routes ------------------------------------------------------------------------------------
    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)
        app.router.add_get("/version", self._version)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)

    async def _health(self, request: web.Request) -> web.Response:
        # api_server.py health(): engine_client.check_health(); 200 with no body, EngineDeadError -> 503.
        return web.Response(status=503 if self.dead else 200)

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": self.version})

    async def _models(self, request: web.Request) -> web.Response:
        # serving_models.py show_available_models(): ModelCard(id=served name, max_model_len, root=model
        # path, permission=[ModelPermission()]) in ModelList; protocol.py defaults: object "model",
        # created now, owned_by "vllm", parent None; ModelPermission id "modelperm-<uuid>", ...
        now = int(time.time())
        permission = {
            "id": f"modelperm-{_random_uuid()}",
            "object": "model_permission",
            "created": now,
            "allow_create_engine": False,
            "allow_sampling": True,
            "allow_logprobs": True,
            "allow_search_indices": False,
            "allow_view": True,
            "allow_fine_tuning": False,
            "organization": "*",
            "group": None,
            "is_blocking": False,
        }
        card = {
            "id": self.model_id,
            "object": "model",
            "created": now,
            "owned_by": "vllm",
            "root": self.root,
            "parent": None,
            "max_model_len": self.max_model_len,
            "permission": [permission],
        }
        return web.json_response({"object": "list", "data": [card]})

    async def _chat(self, request: web.Request) -> web.Response:
        try:
            response = await self._chat_inner(request)
        except _Error as e:
            response = e.response()
        self.answered(response.status)
        return response

    async def _chat_inner(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text())
        except ValueError as e:
            # FastAPI: an unparsable body is a RequestValidationError of type "json_invalid".
            errors = [
                {
                    "type": "json_invalid",
                    "loc": ("body", 0),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": str(e)},
                }
            ]
            raise _Error(400, _validation_message(errors), "Bad Request") from None
        index = self.received(body)
        try:
            req = ChatCompletionRequest.model_validate(body)
        except ValidationError as e:
            errors = [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_url=False)]
            # api_server.py: type HTTPStatus.BAD_REQUEST.phrase ("Bad Request"), code 400.
            raise _Error(400, _validation_message(errors), "Bad Request") from None
        if req.stream:
            raise _Error(501, "streaming is not modelled by the test server", "NotImplemented")

        # serving_chat.py create_chat_completion(), in order:
        # 1. serving_engine.py _check_model(): a model other than the served name -> 404 NotFoundError.
        if req.model and req.model != self.model_id:
            raise _Error(404, f"The model `{req.model}` does not exist.", "NotFoundError")
        # 2. engine dead -> raise engine_client.dead_error -> api_server.py HTTPException(500, str(e)).
        if self.dead:
            raise _http_exception(500, ENGINE_DEAD_MESSAGE)
        # 3. tool_choice "auto" without --enable-auto-tool-choice/--tool-call-parser -> 400.
        if req.tool_choice == "auto" and not self.enable_auto_tool_choice:
            raise _bad_request(
                '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
            )
        # 4. _preprocess_chat -> serving_engine.py _validate_input(); its ValueError is caught in the
        #    preprocessing `except (ValueError, TypeError, RuntimeError, TemplateError)` and answered as
        #    create_error_response(f"{e} {e.__cause__}"): the message ends with " None".
        n_prompt = prompt_tokens(req.messages)
        max_tokens = req.max_completion_tokens or req.max_tokens
        if n_prompt >= self.max_model_len:
            raise _bad_request(
                f"This model's maximum context length is {self.max_model_len} tokens. However, your request "
                f"has {n_prompt} input tokens. Please reduce the length of the input messages. None"
            )
        if max_tokens is not None and n_prompt + max_tokens > self.max_model_len:
            raise _bad_request(
                f"'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. This model's maximum "
                f"context length is {self.max_model_len} tokens and your request has {n_prompt} input tokens "
                f"({max_tokens} > {self.max_model_len} - {n_prompt}). None"
            )
        # 5. utils.py get_max_tokens(): min(max_model_len - input, max_completion_tokens or max_tokens).
        asked = req.max_completion_tokens or req.max_tokens
        limit = self.max_model_len - n_prompt if asked is None else min(self.max_model_len - n_prompt, asked)
        # 6. protocol.py to_sampling_params() + sampling_params.py; ValueErrors -> 400 str(e).
        mode = self._structured_mode(req)
        self._verify_sampling(req, limit)
        self.structured[index] = mode

        admitted = await self._admit()
        try:
            if self._failures:
                status, message = self._failures.pop(0)
                raise _http_exception(status, message)
            return await self._generate(req, body, n_prompt, limit)
        finally:
            if admitted:
                await self._leave()

    def _structured_mode(self, req: ChatCompletionRequest) -> str | None:
        """protocol.py to_sampling_params(): a response_format fills structured_outputs (created empty if
        absent); input_processor.py _validate_structured_output() rejects an empty choice list and an
        empty grammar. Returns the mode applied, None when no constraint results."""
        so = req.structured_outputs
        rf = req.response_format
        mode = None
        if so is not None and so.constraint() is not None:
            mode = f"structured_outputs.{so.constraint()}"
        if rf is not None:
            if so is None:
                so = StructuredOutputsParams()
            if rf.type == "json_object":
                so.json_object = True
                mode = "json_object"
            elif rf.type == "json_schema":
                # `assert json_schema is not None`: an AssertionError is not a ValueError, so it escapes
                # serving_chat.py and api_server.py answers HTTPException(500, str(e)) = "".
                if rf.json_schema is None:
                    raise _http_exception(500, "")
                so.json = rf.json_schema.json_schema
                # no "schema" key: json stays None, all constraints None -> unconstrained
                mode = "json_schema" if so.json is not None else mode
            elif rf.type == "structural_tag":
                mode = "structural_tag"
            # type "text": an empty StructuredOutputsParams, i.e. no constraint
        if so is not None:
            if isinstance(so.choice, list) and not so.choice:
                raise _bad_request(f"Choice '{so.choice}' cannot be an empty list")
            if isinstance(so.grammar, str) and so.grammar.strip() == "":
                raise _bad_request("structured_outputs.grammar cannot be an empty string")
        return mode

    @staticmethod
    def _verify_sampling(req: ChatCompletionRequest, max_tokens: int) -> None:
        # sampling_params.py SamplingParams.__post_init__ / _verify_args, in their order; None -> the
        # ChatCompletionRequest default (temperature 1.0, top_p 1.0, top_k 0, min_p 0.0, repetition 1.0).
        n = 1 if req.n is None else req.n
        presence = 0.0 if req.presence_penalty is None else req.presence_penalty
        frequency = 0.0 if req.frequency_penalty is None else req.frequency_penalty
        repetition = 1.0 if req.repetition_penalty is None else req.repetition_penalty
        temperature = 1.0 if req.temperature is None else req.temperature
        top_p = 1.0 if req.top_p is None else req.top_p
        top_k = 0 if req.top_k is None else req.top_k
        min_p = 0.0 if req.min_p is None else req.min_p
        stop = [req.stop] if isinstance(req.stop, str) else (req.stop or [])
        checks = [
            (n < 1, f"n must be at least 1, got {n}."),
            (not -2.0 <= presence <= 2.0, f"presence_penalty must be in [-2, 2], got {presence}."),
            (not -2.0 <= frequency <= 2.0, f"frequency_penalty must be in [-2, 2], got {frequency}."),
            (repetition <= 0.0, f"repetition_penalty must be greater than zero, got {repetition}."),
            (temperature < 0.0, f"temperature must be non-negative, got {temperature}."),
            (not 0.0 < top_p <= 1.0, f"top_p must be in (0, 1], got {top_p}."),
            (top_k < -1, f"top_k must be 0 (disable), or at least 1, got {top_k}."),
            (not 0.0 <= min_p <= 1.0, f"min_p must be in [0, 1], got {min_p}."),
            (max_tokens < 1, f"max_tokens must be at least 1, got {max_tokens}."),
            (req.min_tokens < 0, f"min_tokens must be greater than or equal to 0, got {req.min_tokens}."),
            (
                req.min_tokens > max_tokens,
                f"min_tokens must be less than or equal to max_tokens={max_tokens}, got {req.min_tokens}.",
            ),
            (any(not s for s in stop), "stop cannot contain an empty string."),
            (temperature < _SAMPLING_EPS and n > 1, f"n must be 1 when using greedy sampling, got {n}."),
        ]
        for failed, message in checks:
            if failed:
                raise _bad_request(message)

    # -- scheduling: max_num_seqs running, the rest wait (v1 scheduler queue) ------------------------
    async def _admit(self) -> bool:
        assert self._slots is not None
        async with self._slots:
            self.waiting += 1
            try:
                await self._slots.wait_for(lambda: self.in_flight < self.max_num_seqs)
            finally:
                self.waiting -= 1
            self.admit()
        return True

    async def _leave(self) -> None:
        assert self._slots is not None
        async with self._slots:
            self.release()
            self._slots.notify_all()

    async def _wake(self) -> None:
        assert self._slots is not None
        async with self._slots:
            self._slots.notify_all()

    async def _generate(self, req: ChatCompletionRequest, body: dict, n_prompt: int, limit: int) -> web.Response:
        text = reply_text(self.content, body)
        n_reply = token_count(text)
        # max_tokens reached -> finish_reason "length" (the EOS token ends the reply otherwise: "stop").
        finish = "length" if n_reply > limit else "stop"
        if finish == "length":
            text, n_reply = truncate_tokens(text, limit), limit
        n = 1 if req.n is None else req.n
        await asyncio.sleep(self.latency.seconds(n_prompt, n_reply, self.in_flight))
        # serving_chat.py chat_completion_full_generator(): ChatCompletionResponse(id=request_id,
        # model=served name, choices, usage) dumped with every field (protocol.py ChatMessage,
        # ChatCompletionResponseChoice, UsageInfo); request_id "chatcmpl-<random_uuid()>".
        message = {
            "role": "assistant",
            "content": text,
            "refusal": None,
            "annotations": None,
            "audio": None,
            "function_call": None,
            "tool_calls": [],
            "reasoning": None,
            "reasoning_content": None,
        }
        choices = [
            {
                "index": i,
                "message": dict(message),
                "logprobs": None,
                "finish_reason": finish,
                "stop_reason": None,
                "token_ids": None,
            }
            for i in range(n)
        ]
        reply = {
            "id": f"chatcmpl-{_random_uuid()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model_id,
            "choices": choices,
            "service_tier": None,
            "system_fingerprint": None,
            "usage": {
                "prompt_tokens": n_prompt,
                "total_tokens": n_prompt + n * n_reply,
                "completion_tokens": n * n_reply,
                "prompt_tokens_details": None,
            },
            "prompt_logprobs": None,
            "prompt_token_ids": None,
            "kv_transfer_params": None,
        }
        return web.json_response(reply)
