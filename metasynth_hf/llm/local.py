"""The embedded default: a small chat model in-process, no server.

Many documents are in flight at once, each awaiting its own call. A single worker drains
the request queue into batches and runs one `generate` per batch (left padding, per-row
`max_new_tokens`, per-row stop on EOS), so concurrent callers share the forward passes.
Temperature and top_p are applied per row by a logits processor, so a conductor turn and an
expert call with other sampling settings still share one batch (greedy rows keep only their
argmax and give the same tokens as alone).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from dataclasses import dataclass

from metasynth_hf.llm.base import Message, Reply, SamplingParams, Usage
from metasynth_hf.models import EMBEDDED_CHAT_MODEL, load_causal_lm, resolve_model

logger = logging.getLogger(__name__)

# Several runs in one process (builder configs, `metasynth compare`) share read-only weights.
_LOADED: dict[tuple[str, str], tuple] = {}
_LOADED_LOCK = threading.Lock()


@dataclass
class _Request:
    messages: list[Message]
    params: SamplingParams
    future: asyncio.Future
    enqueued: float


def _row_sampling(batch: list[_Request]):
    """A LogitsProcessor applying each row's own temperature and top_p (greedy: argmax only)."""
    import torch
    from transformers import LogitsProcessor

    temperature = torch.tensor([r.params.temperature for r in batch], dtype=torch.float32)
    top_p = torch.tensor([r.params.top_p for r in batch], dtype=torch.float32)
    greedy = temperature <= 0

    class RowSampling(LogitsProcessor):
        def __call__(self, input_ids, scores):
            scores = scores / torch.where(greedy, 1.0, temperature).to(scores)[:, None]
            ordered, order = torch.sort(scores, descending=False, dim=-1)
            cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
            drop = cumulative <= (1 - top_p.to(scores))[:, None]
            drop[:, -1] = False  # the most likely token always stays
            scores = scores.masked_fill(drop.scatter(1, order, drop), float("-inf"))
            if greedy.any():
                best = torch.full_like(scores, float("-inf"))
                best.scatter_(1, scores.argmax(dim=-1, keepdim=True), 0.0)
                scores = torch.where(greedy.to(scores.device)[:, None], best, scores)
            return scores

    return RowSampling()


def _batch_seed(requests: list[_Request]) -> int:
    """One RNG seed per batch, derived from the rows' seeds (generate samples batch-wide)."""
    seeds = ",".join(str(r.params.seed) for r in requests)
    return int.from_bytes(hashlib.sha256(seeds.encode()).digest()[:4], "little")


class LocalChatModel:
    """ChatModel backed by transformers on the local CPU/GPU, with dynamic batching."""

    def __init__(
        self,
        model: str = EMBEDDED_CHAT_MODEL,
        *,
        max_batch_size: int = 16,
        batch_wait_ms: float = 5.0,
        device: str = "cpu",
    ):
        self.reference = model
        self._model_id = resolve_model(model).model_id
        self.max_batch_size = max_batch_size
        self.batch_wait_s = batch_wait_ms / 1000
        self.device = device
        self._tokenizer = None
        self._model = None
        self._queue: asyncio.Queue[_Request] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: asyncio.Task | None = None
        self._held: list[_Request] = []
        self._eos: set[int] = set()
        self.batches_run = 0

    @property
    def model_id(self) -> str:
        return self._model_id

    def load(self) -> None:
        """Load weights now (otherwise the first call does it); shared within the process."""
        if self._model is None:
            key = (self.reference, self.device)
            with _LOADED_LOCK:
                if key not in _LOADED:
                    tokenizer, model = load_causal_lm(self.reference)
                    tokenizer.padding_side = "left"
                    if tokenizer.pad_token is None:
                        tokenizer.pad_token = tokenizer.eos_token
                    _LOADED[key] = (tokenizer, model.to(self.device))
            tokenizer, model = _LOADED[key]
            self._tokenizer, self._model = tokenizer, model
            configured = model.generation_config.eos_token_id
            configured = configured if isinstance(configured, list) else [configured]
            self._eos = {tokenizer.eos_token_id, *configured} - {None}

    async def chat(self, messages: list[Message], params: SamplingParams | None = None) -> Reply:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new asyncio.run(): queue and worker belong to the old loop
            self._loop, self._queue, self._held, self._worker = loop, asyncio.Queue(), [], None
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run_worker())
        request = _Request(
            messages, params or SamplingParams(), loop.create_future(), time.monotonic()
        )
        await self._queue.put(request)
        return await request.future

    async def _next_batch(self) -> list[_Request]:
        assert self._queue is not None
        pending = self._held or [await self._queue.get()]
        self._held = []
        if self.batch_wait_s:
            await asyncio.sleep(self.batch_wait_s)
        while not self._queue.empty() and len(pending) < 4 * self.max_batch_size:
            pending.append(self._queue.get_nowait())
        batch, self._held = pending[: self.max_batch_size], pending[self.max_batch_size :]
        return [r for r in batch if not r.future.done()]

    async def _run_worker(self) -> None:
        if self._model is None:
            try:
                await asyncio.to_thread(self.load)
            except Exception as exc:  # noqa: BLE001 - every waiting caller gets the load error
                self._fail_waiting(exc)
                raise
        while True:
            batch = await self._next_batch()
            if not batch:
                continue
            try:
                replies = await asyncio.to_thread(self._generate, batch)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)
                continue
            for request, reply in zip(batch, replies, strict=True):
                if not request.future.done():
                    request.future.set_result(reply)

    def _fail_waiting(self, exc: BaseException) -> None:
        assert self._queue is not None
        waiting = self._held + [self._queue.get_nowait() for _ in range(self._queue.qsize())]
        self._held = []
        for request in waiting:
            if not request.future.done():
                request.future.set_exception(exc)

    def _generate(self, batch: list[_Request]) -> list[Reply]:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

        tokenizer, model = self._tokenizer, self._model
        prompts = [
            tokenizer.apply_chat_template(r.messages, add_generation_prompt=True, tokenize=False)
            for r in batch
        ]
        enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        start = enc["input_ids"].shape[1]
        limits = torch.tensor([r.params.max_tokens for r in batch], device=self.device)

        class PerRowLimit(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return (input_ids.shape[1] - start) >= limits

        sampling: dict = {"do_sample": False}
        if any(r.params.temperature > 0 for r in batch):
            sampling = {"do_sample": True, "temperature": 1.0, "top_p": 1.0, "top_k": None,
                        "logits_processor": LogitsProcessorList([_row_sampling(batch)])}  # fmt: skip
            torch.manual_seed(_batch_seed(batch))
        began = time.monotonic()
        with torch.inference_mode():
            out = model.generate(
                **enc,
                max_new_tokens=int(limits.max()),
                stopping_criteria=StoppingCriteriaList([PerRowLimit()]),
                pad_token_id=tokenizer.pad_token_id,
                **sampling,
            )
        self.batches_run += 1
        elapsed = time.monotonic() - began
        return [
            self._reply(
                tokenizer, out[i, start:], request, int(enc["attention_mask"][i].sum()), elapsed
            )
            for i, request in enumerate(batch)
        ]

    def _reply(
        self, tokenizer, new_ids, request: _Request, prompt_tokens: int, elapsed: float
    ) -> Reply:
        ids = new_ids[: request.params.max_tokens].tolist()
        finish = "length"
        for i, token in enumerate(ids):
            if token in self._eos:
                ids, finish = ids[:i], "stop"
                break
        text = tokenizer.decode(ids, skip_special_tokens=True)
        for stop in request.params.stop:
            cut = text.find(stop)
            if cut >= 0:
                text, finish = text[:cut], "stop"
        return Reply(
            text=text,
            usage=Usage(prompt_tokens, len(ids)),
            model=self._model_id,
            latency_s=time.monotonic() - request.enqueued,
            endpoint="local",
            finish_reason=finish,
        )

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
