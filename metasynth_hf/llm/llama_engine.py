"""Continuous batching over one llama.cpp context: many chats decoded together, one thread.

Why not `Llama.create_chat_completion`: it serves one request at a time, so concurrent
documents would queue behind each other. Here every request gets its own sequence id in one
context (as llama.cpp's `parallel` example and server slots do): each step decodes one
token for every running sequence, plus prompt chunks of newly admitted ones, in a single
`llama_decode`. Each request has its own sampler chain (grammar from its JSON schema,
temperature, top_p, and a distribution seeded by its own seed), so what a request samples
depends only on its own logits and seed, never on its neighbours. A finished sequence keeps
its tokens in the KV cache; the next request whose prompt shares a prefix with it (the
conductor's growing history, the long system prompts) reuses that state and prefills only
the rest.
"""

from __future__ import annotations

import ctypes
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import llama_cpp

from metasynth_hf.errors import ConfigError
from metasynth_hf.llm.base import Message, SamplingParams

logger = logging.getLogger(__name__)

#: A kept prefix shorter than this is not worth a slot that may hold a longer conversation.
MIN_REUSE_TOKENS = 64

_BACKEND_READY = threading.Lock()
_backend_initialised = False


@lru_cache(maxsize=64)
def schema_grammar(schema_json: str) -> str:
    """GBNF grammar text for a JSON schema (llama-cpp-python's converter), cached per schema."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    grammar = json_schema_to_gbnf(schema_json)
    # Its string rule admits raw control characters (a newline inside a string), which JSON
    # forbids; llama.cpp's own converter excludes them, and so does this grammar.
    return grammar.replace('char ::= [^"\\\\]', 'char ::= [^"\\\\\\x7F\\x00-\\x1F]')


#: How scripts/setup_venv.sh builds llama-cpp-python for this engine.
RECOMMENDED_CMAKE_ARGS = "-DGGML_OPENMP=OFF -DGGML_LLAMAFILE=OFF"


def _warn_about_build(system_info: str) -> None:
    """Say once what a default llama-cpp-python build costs this engine, and the fix."""
    costs = []
    if "OPENMP = 1" in system_info:
        costs.append("OpenMP (decoding on a worker thread ran 3.7x slower)")
    if "LLAMAFILE = 1" in system_info:
        costs.append("llamafile sgemm (a reply can change with what else shares its batch)")
    if costs:
        logger.warning(
            "this llama-cpp-python build uses %s; rebuild it for the embedded engine: "
            'CMAKE_ARGS="%s" pip install --force-reinstall --no-cache-dir llama-cpp-python',
            " and ".join(costs),
            RECOMMENDED_CMAKE_ARGS,
        )


class EngineClosed(RuntimeError):
    """A request the engine will not answer: it was closed (the process is stopping)."""


@dataclass
class EngineStats:
    """What the engine did, for benchmarks and the run summary."""

    requests: int = 0
    prompt_tokens: int = 0
    prefill_tokens: int = 0  # prompt tokens actually computed
    reused_prompt_tokens: int = 0  # prompt tokens answered from a kept KV prefix
    completion_tokens: int = 0
    decode_calls: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class EngineRequest:
    """One chat to answer; `deliver(text, prompt_tokens, completion_tokens, finish)` or `fail(exc)`."""

    messages: list[Message]
    params: SamplingParams
    seed: int
    deliver: Callable[[str, int, int, str], None]
    fail: Callable[[BaseException], None]
    cancelled: Callable[[], bool]


@dataclass
class _Slot:
    seq: int
    tokens: list[int] = field(default_factory=list)  # what the KV cache holds for this seq
    request: EngineRequest | None = None
    pending: list[int] = field(default_factory=list)  # prompt tokens still to prefill
    prompt_tokens: int = 0
    generated: list[int] = field(default_factory=list)
    text: bytearray = field(default_factory=bytearray)
    sampler: ctypes.c_void_p | None = None
    next_token: int | None = None  # sampled, not yet in the KV cache
    last_used: float = 0.0


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class LlamaEngine:
    """Owns the model, one context with `parallel` sequences, and the thread that drives it."""

    def __init__(self, model_path: str, *, parallel: int, n_ctx_per_seq: int, n_threads: int):
        global _backend_initialised
        with _BACKEND_READY:
            if not _backend_initialised:
                # llama.cpp logs every graph build; its Python callback prints only at or above
                # this logger's level (NOTSET would print all of it). `-v` lowers it.
                llama_logger = logging.getLogger("llama-cpp-python")
                if llama_logger.level == logging.NOTSET:
                    llama_logger.setLevel(logging.ERROR)
                llama_cpp.llama_backend_init()
                _backend_initialised = True
                _warn_about_build(llama_cpp.llama_print_system_info().decode(errors="replace"))
        model_params = llama_cpp.llama_model_default_params()
        # No extra buffer types: llama.cpp's AMX path (picked on CPUs that report AMX) crashed
        # in `ggml_backend_amx_mul_mat` on this project's machines, and Q4 GGUFs gain little.
        model_params.use_extra_bufts = False
        self._model = llama_cpp.llama_model_load_from_file(model_path.encode(), model_params)
        if not self._model:
            raise RuntimeError(f"llama.cpp could not load {model_path}")
        self.parallel = parallel
        self.n_ctx_per_seq = n_ctx_per_seq
        self.n_batch = 512
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = parallel * n_ctx_per_seq
        params.n_batch = self.n_batch
        params.n_ubatch = self.n_batch
        params.n_seq_max = parallel
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        # One KV stream per sequence: attention sees only its own cells, so a reply does not
        # depend on its neighbours (a unified cache changed sampled replies; no faster here).
        params.kv_unified = False
        params.no_perf = True
        # No flash attention: its CPU kernel tiles long prompts differently from short ones, so
        # a reply computed over a reused KV prefix differed from the same reply computed fresh
        # (greedy too). Without it prefix reuse changes nothing but the time (~20% slower here).
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        if not self._ctx:
            raise RuntimeError(f"llama.cpp could not create a context for {model_path}")
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._vocab = llama_cpp.llama_model_get_vocab(self._model)
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._format = self._chat_formatter()
        self._slots = [_Slot(seq=i) for i in range(parallel)]
        self._queue: queue.Queue[EngineRequest | None] = queue.Queue()  # None: wake up and stop
        self._waiting: list[EngineRequest] = []
        self._closing = threading.Event()
        self.stats = EngineStats()
        self._thread = threading.Thread(target=self._run, name="llama-engine", daemon=True)
        self._thread.start()

    # -- prompt side -------------------------------------------------------------------------
    def _chat_formatter(self):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = llama_cpp.llama_model_chat_template(self._model, None)
        if not template:
            raise RuntimeError("the GGUF file has no chat template (tokenizer.chat_template)")
        formatter = Jinja2ChatFormatter(
            template.decode("utf-8"),
            eos_token=self.piece(llama_cpp.llama_vocab_eos(self._vocab), special=True).decode(),
            bos_token=self.piece(llama_cpp.llama_vocab_bos(self._vocab), special=True).decode(),
        )
        return lambda messages: formatter(messages=messages).prompt

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text`, special tokens parsed (the chat template writes them as text)."""
        data = text.encode("utf-8")
        size = len(data) + 16
        while True:
            buf = (llama_cpp.llama_token * size)()
            n = llama_cpp.llama_tokenize(self._vocab, data, len(data), buf, size, False, True)
            if n >= 0:
                return list(buf[:n])
            size = -n

    def piece(self, token: int, *, special: bool = False) -> bytes:
        """The bytes one token stands for (pieces of a multi-byte character come apart)."""
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, 64, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, -n, 0, special)
        return buf.raw[:n]

    def prompt_tokens(self, messages: list[Message]) -> list[int]:
        """The chat template applied and tokenized exactly as a request's prompt will be."""
        return self.tokenize(self._format(messages))

    # -- public ------------------------------------------------------------------------------
    def submit(self, request: EngineRequest) -> None:
        if self._closing.is_set():
            request.fail(EngineClosed("the embedded engine is closed (the process is stopping)"))
            return
        self._queue.put(request)

    @property
    def closed(self) -> bool:
        return self._closing.is_set()

    def close(self) -> None:
        """Stop the engine thread after its current step and wait for it; requests still unanswered
        fail with `EngineClosed`. After this no llama.cpp call is in flight: an interpreter that
        exits under a running `llama_decode` frees what it computes on and crashes (exit 139 on a
        Ctrl-C on a busy machine, where one step outlasted the shutdown). Idempotent."""
        self._closing.set()
        self._queue.put(None)  # wakes a thread waiting for work
        if threading.current_thread() is not self._thread:
            self._thread.join()

    # -- engine thread -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._serve()
        finally:
            closed = EngineClosed("the embedded engine is closed (the process is stopping)")
            for slot in self._slots:
                if slot.request is not None:
                    self._finish(slot, error=closed)
            self._drain_queue(block=False)
            for request in self._waiting:
                request.fail(closed)
            self._waiting.clear()

    def _serve(self) -> None:
        while not self._closing.is_set():
            active = [s for s in self._slots if s.request is not None]
            block = not active and not self._waiting
            self._drain_queue(block)
            if self._closing.is_set():
                return
            self._admit()
            active = [s for s in self._slots if s.request is not None]
            if not active:
                continue
            try:
                self._step(active)
            except Exception as exc:  # noqa: BLE001 - every running request gets the error
                logger.exception("llama.cpp decode failed")
                for slot in active:
                    self._finish(slot, error=exc)

    def _drain_queue(self, block: bool) -> None:
        try:
            item = self._queue.get(block=block)
            while True:
                if item is not None:
                    self._waiting.append(item)
                item = self._queue.get_nowait()
        except queue.Empty:
            pass

    def _admit(self) -> None:
        while self._waiting:
            free = [s for s in self._slots if s.request is None]
            if not free:
                return
            request = self._waiting.pop(0)
            if request.cancelled():
                continue
            try:
                prompt = self.prompt_tokens(request.messages)
                if len(prompt) + request.params.max_tokens > self.n_ctx_per_seq:
                    raise ConfigError(
                        f"prompt of {len(prompt)} tokens + max_tokens {request.params.max_tokens} "
                        f"exceeds the embedded model's context of {self.n_ctx_per_seq} tokens per "
                        "sequence; raise conductor.context_tokens / experts.context_tokens or lower max_tokens"
                    )
                sampler = self._sampler(request)
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                request.fail(exc)
                continue
            slot, keep = self._pick_slot(free, prompt)
            llama_cpp.llama_memory_seq_rm(self._memory, slot.seq, keep, -1)
            slot.tokens = prompt[:keep]
            slot.request, slot.sampler = request, sampler
            slot.pending, slot.prompt_tokens = prompt[keep:], len(prompt)
            slot.generated, slot.text, slot.next_token = [], bytearray(), None
            self.stats.requests += 1
            self.stats.prompt_tokens += len(prompt)
            self.stats.reused_prompt_tokens += keep

    def _pick_slot(self, free: list[_Slot], prompt: list[int]) -> tuple[_Slot, int]:
        """The free slot whose kept tokens share the longest prefix with `prompt`, if that
        prefix is worth keeping; else the least recently used one, so a short common header
        (the chat template's first tokens) does not evict a conversation worth resuming.
        At least the last prompt token is always recomputed, to get its logits."""
        shared = {s.seq: _common_prefix(s.tokens, prompt[:-1]) for s in free}
        best = max(free, key=lambda s: (shared[s.seq], -s.last_used))
        if shared[best.seq] < MIN_REUSE_TOKENS:
            best = min(free, key=lambda s: s.last_used)
        return best, shared[best.seq]

    def _sampler(self, request: EngineRequest):
        params = request.params
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        if params.json_schema is not None:
            grammar = schema_grammar(json.dumps(params.json_schema, sort_keys=True))
            llama_cpp.llama_sampler_chain_add(
                chain, llama_cpp.llama_sampler_init_grammar(self._vocab, grammar.encode(), b"root")
            )
        if params.temperature <= 0:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        else:
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_temp(params.temperature))
            if params.top_p < 1.0:
                llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(request.seed))
        return chain

    def _step(self, active: list[_Slot]) -> None:
        batch, n = self._batch, 0
        rows: list[tuple[_Slot, int]] = []
        # Decoding sequences first (one token each), then prompt chunks in the room left.
        for slot in active:
            assert slot.request is not None  # `active` holds the slots with a request
            if slot.request.cancelled():
                self._finish(slot, cancelled=True)
                continue
            if slot.next_token is not None:
                self._add(batch, n, slot.next_token, len(slot.tokens), slot.seq, True)
                slot.tokens.append(slot.next_token)
                slot.next_token = None
                rows.append((slot, n))
                n += 1
        for slot in active:
            if slot.request is None or not slot.pending or n >= self.n_batch:
                continue
            take = slot.pending[: self.n_batch - n]
            for offset, token in enumerate(take):
                last = offset == len(take) - 1 and len(take) == len(slot.pending)
                self._add(batch, n, token, len(slot.tokens) + offset, slot.seq, last)
                if last:
                    rows.append((slot, n))
                n += 1
            slot.tokens.extend(take)
            slot.pending = slot.pending[len(take) :]
            self.stats.prefill_tokens += len(take)
        if n == 0:
            return
        batch.n_tokens = n
        status = llama_cpp.llama_decode(self._ctx, batch)
        self.stats.decode_calls += 1
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status} (KV cache full?)")
        for slot, row in rows:
            self._sample(slot, row)

    @staticmethod
    def _add(batch, i: int, token: int, pos: int, seq: int, logits: bool) -> None:
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = logits

    def _sample(self, slot: _Slot, row: int) -> None:
        token = llama_cpp.llama_sampler_sample(slot.sampler, self._ctx, row)
        assert slot.request is not None  # `_step` samples only the slots with a request
        params = slot.request.params
        if llama_cpp.llama_vocab_is_eog(self._vocab, token):
            self._finish(slot, finish="stop")
            return
        slot.generated.append(token)
        slot.next_token = token
        self.stats.completion_tokens += 1
        slot.text += self.piece(token)
        if params.stop:
            text = slot.text.decode("utf-8", "ignore")
            cuts = [text.find(s) for s in params.stop if s in text]
            if cuts:
                slot.text = bytearray(text[: min(cuts)].encode("utf-8"))
                self._finish(slot, finish="stop")
                return
        if len(slot.generated) >= params.max_tokens:
            self._finish(slot, finish="length")

    def _finish(
        self, slot: _Slot, *, finish: str = "stop", error: BaseException | None = None, cancelled: bool = False
    ) -> None:
        request = slot.request
        if slot.sampler is not None:
            llama_cpp.llama_sampler_free(slot.sampler)
        if slot.pending or error is not None:  # a half-filled prompt is no prefix to reuse
            llama_cpp.llama_memory_seq_rm(self._memory, slot.seq, -1, -1)
            slot.tokens = []
        slot.request, slot.sampler, slot.pending, slot.next_token = None, None, [], None
        slot.last_used = time.monotonic()
        if request is None or cancelled:
            return
        if error is not None:
            request.fail(error)
            return
        text = slot.text.decode("utf-8", "ignore")
        request.deliver(text, slot.prompt_tokens, len(slot.generated), finish)
