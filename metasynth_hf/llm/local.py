"""The embedded default: a GGUF chat model in-process on llama.cpp, no server.

Many documents are in flight at once, each awaiting its own call; they all share one
`LlamaEngine` (continuous batching, one sequence per request, see `llama_engine`). Structured
calls (`SamplingParams.json_schema`) are decoded under a grammar built from the schema, so
their replies always parse. A reply depends only on (model, messages, sampling params, seed):
each request samples from its own seeded distribution, whatever else runs beside it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import hashlib
import json
import os
import threading
import time
from typing import TYPE_CHECKING

from metasynth_hf.errors import ConfigError, missing_dependency
from metasynth_hf.llm.base import Message, Reply, SamplingParams, Usage
from metasynth_hf.models import EMBEDDED_CHAT_MODEL, resolve_model

if TYPE_CHECKING:  # imports llama_cpp, an optional dependency
    from metasynth_hf.llm.llama_engine import LlamaEngine

# Several runs in one process (builder configs, `metasynth compare`) share one engine.
_ENGINES: dict[tuple, LlamaEngine] = {}
_ENGINES_LOCK = threading.Lock()


def close_engines() -> None:
    """Stop every embedded engine's decode thread and wait for it (one decode step at most).

    Called when `metasynth` is interrupted and, for any other way out, at interpreter exit
    (atexit runs before teardown): Python must not free llama.cpp's model and context while
    a decode runs on the engine thread, which crashed the process (SIGSEGV, exit 139). A later
    `load` in this process starts a new engine."""
    with _ENGINES_LOCK:
        engines = list(_ENGINES.items())
    for key, engine in engines:
        engine.close()  # a second Ctrl-C here leaves it listed: atexit waits for it again
        with _ENGINES_LOCK:
            if _ENGINES.get(key) is engine:
                del _ENGINES[key]


atexit.register(close_engines)


def default_threads() -> int:
    """One thread per core this process may use (llama.cpp decodes fastest without oversubscription)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS
        return max(1, os.cpu_count() or 1)


def request_seed(messages: list[Message], params: SamplingParams) -> int:
    """The request's own seed, or one derived from the request itself when it has none."""
    if params.seed is not None:
        return params.seed & 0xFFFFFFFF
    key = json.dumps([messages, params.to_key()], sort_keys=True).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "little")


class LocalChatModel:
    """ChatModel on llama.cpp in this process: continuous batching of every caller's requests."""

    def __init__(
        self,
        model: str = EMBEDDED_CHAT_MODEL,
        *,
        parallel: int = 8,
        context_tokens: int = 4096,
        threads: int | None = None,
        grammar: bool = True,
    ):
        self.reference = model
        ref = resolve_model(model)
        if not ref.gguf_file:
            raise ConfigError(
                f"model: the embedded backend runs GGUF files on llama.cpp, got {model!r}; give "
                "'smollm2' or a path to a .gguf file, or serve the model with TGI and set `endpoints`"
            )
        self._model_id = ref.identity  # with the weights' digest: swapped weights miss the cache
        self._path = os.path.join(ref.name_or_path, ref.gguf_file)
        self.parallel = parallel
        self.context_tokens = context_tokens
        self.threads = threads or default_threads()
        self.grammar = grammar
        self._engine: LlamaEngine | None = None

    @property
    def model_id(self) -> str:
        # Part of every cache key: replies decoded without the grammar are other replies.
        return self._model_id if self.grammar else f"{self._model_id}+no-grammar"

    def load(self) -> None:
        """Load weights now (otherwise the first call does it); shared within the process."""
        if self._engine is not None and not self._engine.closed:
            return
        try:
            from metasynth_hf.llm.llama_engine import LlamaEngine
        except ImportError as exc:
            raise missing_dependency("llama-cpp-python", "local") from exc
        key = (self._path, self.parallel, self.context_tokens, self.threads)
        with _ENGINES_LOCK:
            if key not in _ENGINES:
                _ENGINES[key] = LlamaEngine(
                    self._path,
                    parallel=self.parallel,
                    n_ctx_per_seq=self.context_tokens,
                    n_threads=self.threads,
                )
            self._engine = _ENGINES[key]

    @property
    def stats(self) -> dict[str, int]:
        return self._engine.stats.as_dict() if self._engine is not None else {}

    async def chat(self, messages: list[Message], params: SamplingParams | None = None) -> Reply:
        from metasynth_hf.llm.llama_engine import EngineRequest

        params = params or SamplingParams()
        if not self.grammar and params.json_schema is not None:
            params = dataclasses.replace(params, json_schema=None)
        if self._engine is None or self._engine.closed:
            await asyncio.to_thread(self.load)
        assert self._engine is not None  # `load` sets it or raises
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        began = time.monotonic()

        def deliver(text: str, prompt_tokens: int, completion_tokens: int, finish: str) -> None:
            reply = Reply(
                text=text,
                usage=Usage(prompt_tokens, completion_tokens),
                model=self.model_id,
                latency_s=time.monotonic() - began,
                endpoint="local",
                finish_reason=finish,
            )
            _call_soon(loop, future, reply, None)

        def fail(exc: BaseException) -> None:
            _call_soon(loop, future, None, exc)

        self._engine.submit(
            EngineRequest(
                messages=messages,
                params=params,
                seed=request_seed(messages, params),
                deliver=deliver,
                fail=fail,
                cancelled=future.done,
            )
        )
        return await future

    async def aclose(self) -> None:
        """The engine stays loaded for later runs in this process; nothing to release per run."""


def _call_soon(loop: asyncio.AbstractEventLoop, future: asyncio.Future, reply, exc) -> None:
    """Hand a result to the caller's loop from the engine thread; a closed loop (the caller
    was interrupted) must not kill the engine, which serves every later run in the process."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_resolve, future, reply, exc)


def _resolve(future: asyncio.Future, reply: Reply | None, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(reply)
