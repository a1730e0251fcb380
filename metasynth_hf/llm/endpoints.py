"""A pool of OpenAI-compatible endpoints (TGI, vLLM, llama.cpp) behind one ChatModel.

Each call goes to the least-loaded healthy endpoint. Failures are retried with exponential
backoff and full jitter (Retry-After honoured) within a bounded number of attempts and a
time budget; an endpoint that keeps failing is benched for a cool-down, then re-probed with
a single request. 4xx other than 408/429 are not retried: the request itself is wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import random
import time
from urllib.parse import urlsplit

from huggingface_hub import AsyncInferenceClient, get_token

from metasynth_hf.errors import EndpointError
from metasynth_hf.llm.base import Message, Reply, SamplingParams, Usage
from metasynth_hf.llm.config import EndpointConfig, RetryConfig
from metasynth_hf.llm.errors_http import Failure, MalformedReply, classify
from metasynth_hf.llm.http import allow_endpoint, httpx, new_async_client
from metasynth_hf.llm.structured import detect_server_kind, get_json, response_format_for

logger = logging.getLogger(__name__)


#: `asyncio.timeout` (3.11+): wait_for would wrap every call in a task of its own (3.10, 3.11).
_TIMEOUT = getattr(asyncio, "timeout", None)
#: Hosts that get the Hugging Face token by default (Inference Endpoints, the router, Spaces).
HF_HOST_SUFFIXES = ("huggingface.co", "huggingface.cloud", "hf.space")
#: Requests in flight per HTTP client (each has its own connection pool, httpx' default 100).
CONNECTIONS_PER_CLIENT = 64


def endpoint_token(config: EndpointConfig) -> str | None:
    """The endpoint's only credential: its own key (`api_key_env`), the HF token for Hugging Face
    hosts, else none (huggingface_hub would send the stored token to any server, plain-http
    ones on a cluster included)."""
    if config.api_key_env:
        return os.environ.get(config.api_key_env) or None
    host = (urlsplit(config.url).hostname or "").lower()
    if any(host == suffix or host.endswith("." + suffix) for suffix in HF_HOST_SUFFIXES):
        return get_token()
    return None


class Endpoint:
    """One server: its client, concurrency limit and health.

    Health has two separate brakes. A rate limit (a failure with `Retry-After`, e.g. 429 or a
    loading TGI's 503) holds requests to the endpoint until that moment and never benches it: the
    server is up and said when to come back. A down endpoint of a pool (connection errors,
    timeouts, 5xx without `Retry-After`) is benched after `failures_to_cooldown` consecutive
    failures, first for `cooldown_s`, doubling on every failed probe up to `max_cooldown_s`, never
    past the call's budget; one request then probes it. A pool's only endpoint is never benched:
    there is nowhere else to go, so its retries are spaced by the backoff alone.
    """

    def __init__(self, config: EndpointConfig, retry: RetryConfig, changed: asyncio.Event | None = None):
        self.config = config
        self.retry = retry
        token = endpoint_token(config)
        allow_endpoint(config.url, token)  # the HTTP hook enforces it: no stored token leaks
        # One client (one connection pool) per CONNECTIONS_PER_CLIENT requests in flight: httpx'
        # pool scans its connections and queued requests on every request and response, so one
        # pool under 256 requests costs the client process more CPU than the rest of a template
        # document (benchmarks/bench_cli_throughput.py); several small pools keep the scans short.
        clients = max(1, math.ceil(config.max_concurrency / CONNECTIONS_PER_CLIENT))
        self.clients = [
            AsyncInferenceClient(base_url=config.url, token=token, timeout=config.timeout_s) for _ in range(clients)
        ]
        self._client_active = [0] * clients
        self.semaphore = asyncio.Semaphore(config.max_concurrency)
        self.in_flight = 0  # picked for a request (queued on the semaphore or sent)
        self.active = 0  # sent and not yet answered: never above max_concurrency
        self.peak_active = 0
        self.consecutive_failures = 0
        self.benched_until = 0.0
        self.benches = 0  # consecutive benches: each failed probe doubles the cool-down
        self.rate_limited_until = 0.0
        self.last_failure = ""
        self.probing = False
        self.changed = changed or asyncio.Event()  # set on every health change: waiters wake
        self.server_kind: str | None = None if config.server_kind == "auto" else config.server_kind
        self._kind_lock = asyncio.Lock()
        self.sent = 0

    @property
    def url(self) -> str:
        return self.config.url

    def load(self) -> float:
        return self.in_flight / self.config.max_concurrency

    def available(self, now: float) -> bool:
        if now < self.rate_limited_until or now < self.benched_until:
            return False
        return not (self.benched_until and self.probing)

    def ready_at(self, now: float) -> float:
        """When this endpoint may take a request (now, or the end of its rate limit or cool-down)."""
        return max(now, self.rate_limited_until, self.benched_until)

    def mark_success(self) -> None:
        self.consecutive_failures = self.benches = 0
        self.benched_until = 0.0
        self.probing = False
        self.changed.set()

    def mark_failure(self, now: float, failure: Failure, budget_left_s: float, *, can_bench: bool = True) -> None:
        """Book a failed attempt. `can_bench` is False for a pool's only endpoint: benching it
        would only add waiting; its retries are spaced by the backoff alone."""
        self.last_failure = failure.label
        self.probing = False
        if failure.retry_after_s is not None:  # up, and told us when: wait, do not bench
            self.rate_limited_until = max(self.rate_limited_until, now + min(failure.retry_after_s, budget_left_s))
            self.changed.set()
            return
        self.consecutive_failures += 1
        if can_bench and self.consecutive_failures >= self.retry.failures_to_cooldown:
            rest = min(self.retry.cooldown_s * 2**self.benches, self.retry.max_cooldown_s, max(budget_left_s, 0.0))
            self.benched_until = now + rest
            self.benches += 1
            logger.warning(
                "endpoint %s benched for %.1fs after %d consecutive failures (last: %s)",
                self.url,
                rest,
                self.consecutive_failures,
                failure.label,
            )
        self.changed.set()

    def describe(self, now: float) -> str:
        """This endpoint's state in words, for errors."""
        if self.benched_until > now:
            state = f"down, benched {self.benched_until - now:.1f}s more after {self.consecutive_failures} failures"
        elif self.rate_limited_until > now:
            state = f"rate-limited for {self.rate_limited_until - now:.1f}s more"
        elif self.consecutive_failures:
            state = f"{self.consecutive_failures} consecutive failure(s)"
        else:
            state = "healthy"
        return f"{self.url}: {state}" + (f" (last: {self.last_failure})" if self.last_failure else "")

    async def kind(self) -> str:
        if self.server_kind is None:
            async with self._kind_lock:
                if self.server_kind is None:
                    self.server_kind = await detect_server_kind(self.url)
                    logger.info("endpoint %s speaks %s structured output", self.url, self.server_kind)
        return self.server_kind

    async def send(self, messages: list[Message], params: SamplingParams) -> Reply:
        kind = await self.kind() if params.json_schema else "none"
        async with self.semaphore:
            self.sent += 1
            self.active += 1
            self.peak_active = max(self.peak_active, self.active)
            try:
                return await self._send(messages, params, kind)
            finally:
                self.active -= 1

    async def _send(self, messages: list[Message], params: SamplingParams, kind: str) -> Reply:
        started = time.monotonic()
        active = self._client_active
        pick = min(range(len(active)), key=active.__getitem__)  # the least busy pool
        active[pick] += 1
        try:
            out = await self.clients[pick].chat_completion(
                messages,
                model=self.config.model,
                max_tokens=params.max_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                seed=params.seed,
                stop=list(params.stop) or None,
                # huggingface_hub annotates its dataclasses but takes plain dicts (its own docs pass one)
                response_format=response_format_for(kind, params.json_schema),  # type: ignore[arg-type]
            )
            choice = out.choices[0]
            text = choice.message.content
            usage = out.usage
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise
            # huggingface_hub parses the body into dataclasses: a truncated or foreign body ends here
            raise MalformedReply(f"malformed response body ({type(exc).__name__}: {exc})") from exc
        finally:
            active[pick] -= 1
        if not isinstance(text, str) or not text.strip():
            # a server fault (content null or blank): retried, and never cached as an answer
            raise MalformedReply(f"empty reply (200 with {'no' if text is None else 'blank'} message content)")
        return Reply(
            text=text,
            usage=Usage(
                getattr(usage, "prompt_tokens", 0) or 0,
                getattr(usage, "completion_tokens", 0) or 0,
            ),
            model=out.model or self.config.model,
            latency_s=time.monotonic() - started,
            endpoint=self.url,
            finish_reason=choice.finish_reason,
        )


class EndpointPool:
    """ChatModel over several endpoints serving the same model."""

    def __init__(self, endpoints: list[EndpointConfig], retry: RetryConfig, *, model_id: str = ""):
        if not endpoints:
            raise EndpointError("an endpoint pool needs at least one endpoint url")
        self.retry = retry
        self._changed = asyncio.Event()  # any endpoint's health changed: waiting lanes re-pick
        self.endpoints = [Endpoint(cfg, retry, self._changed) for cfg in endpoints]
        self._label = self._model_id = model_id or endpoints[0].model
        self.served: list[str] = []  # what the servers say they serve (identify())
        self._rng = random.Random()

    @property
    def model_id(self) -> str:
        """The label plus the served model ids once known: part of every cache key, so a
        different model behind the same URL never gets the old model's cached replies."""
        return self._model_id

    def _pick(self, avoid: Endpoint | None) -> Endpoint | None:
        now = time.monotonic()
        ready = [e for e in self.endpoints if e.available(now)]
        if len(ready) > 1 and avoid in ready:
            ready.remove(avoid)
        if not ready:
            return None
        best = min(e.load() for e in ready)
        choice = self._rng.choice([e for e in ready if e.load() == best])
        if choice.benched_until:  # cool-down over: this request is the probe
            choice.probing = True
        return choice

    def _backoff(self, attempt: int, failure: Failure) -> float:
        ceiling = min(self.retry.max_delay_s, self.retry.base_delay_s * 2**attempt)
        delay = self._rng.uniform(0, ceiling)
        if failure.retry_after_s is not None:
            delay = max(delay, failure.retry_after_s)
        return delay

    async def _wait_for_endpoint(self, deadline: float) -> None:
        """Sleep until an endpoint may take a request (its rate limit or cool-down ends, or a
        probe reports back), never past the deadline; no polling."""
        now = time.monotonic()
        wake = min(e.ready_at(now) for e in self.endpoints)
        if wake >= deadline:
            raise EndpointError(
                f"no endpoint can take a request within the retry budget ({self.describe_health()}); "
                "check the servers or raise retry.budget_s"
            )
        self._changed.clear()
        timeout = max(wake - now, 0.0) if wake > now else deadline - now  # a probe in flight: wait for it
        with contextlib.suppress(asyncio.TimeoutError):  # noqa: UP041 - a distinct class before Python 3.11
            await asyncio.wait_for(self._changed.wait(), timeout=timeout)

    async def chat(self, messages: list[Message], params: SamplingParams | None = None) -> Reply:
        """One call with retries; `retry.budget_s` is a wall-clock deadline for all of it, the
        attempt in flight included (it is cut at the deadline)."""
        params = params or SamplingParams()
        deadline = time.monotonic() + self.retry.budget_s
        last: tuple[Endpoint, Failure] | None = None
        attempt = 0
        while attempt < self.retry.max_attempts:
            endpoint = self._pick(last[0] if last else None)
            if endpoint is None:
                await self._wait_for_endpoint(deadline)
                continue
            endpoint.in_flight += 1
            try:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                if _TIMEOUT is not None:  # 3.11+: a deadline on this task, not a new task per call
                    async with _TIMEOUT(left):
                        reply = await endpoint.send(messages, params)
                else:
                    reply = await asyncio.wait_for(endpoint.send(messages, params), timeout=left)
            except asyncio.CancelledError:
                endpoint.probing = False
                endpoint.changed.set()
                raise
            except Exception as exc:  # noqa: BLE001 - classified below; unknown errors re-raised
                failure = classify(exc)
                if failure is None:
                    endpoint.probing = False
                    endpoint.changed.set()
                    raise
                last = (endpoint, failure)
                now = time.monotonic()
                logger.info("attempt %d on %s failed: %s", attempt + 1, endpoint.url, failure.label)
                if not failure.retryable:
                    endpoint.probing = False
                    endpoint.changed.set()
                    if self._drop_structured_output(endpoint, failure, params):
                        continue
                    raise self._error(endpoint, failure, attempt + 1, exc) from exc
                endpoint.mark_failure(now, failure, deadline - now, can_bench=len(self.endpoints) > 1)
                attempt += 1
                if now >= deadline:
                    raise self._error(endpoint, failure, attempt, exc, budget=True) from exc
                if attempt >= self.retry.max_attempts:
                    raise self._error(endpoint, failure, attempt, exc) from exc
                delay = self._backoff(attempt - 1, failure)
                if now + delay > deadline:
                    raise self._error(endpoint, failure, attempt, exc, budget=True) from exc
                if failure.retry_after_s is None or len(self.endpoints) == 1:
                    await asyncio.sleep(delay)  # with Retry-After and other endpoints: go elsewhere now
                continue
            finally:
                endpoint.in_flight -= 1
            endpoint.mark_success()
            return reply
        raise AssertionError("unreachable: the loop returns or raises")

    @staticmethod
    def _drop_structured_output(endpoint: Endpoint, failure: Failure, params: SamplingParams) -> bool:
        """A server that rejects our response_format still answers plain requests."""
        if failure.status not in (400, 422) or not params.json_schema:
            return False
        if endpoint.server_kind == "none":
            return False
        logger.warning(
            "endpoint %s rejected structured output (%s); sending plain requests and parsing replies tolerantly",
            endpoint.url,
            failure.label,
        )
        endpoint.server_kind = "none"
        return True

    def _error(
        self, endpoint: Endpoint, failure: Failure, attempts: int, exc: Exception, *, budget: bool = False
    ) -> EndpointError:
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if failure.retryable:
            why = f"retry.budget_s={self.retry.budget_s:g} s ran out" if budget else "retry.max_attempts reached"
            what = f"gave up after {attempts} attempt(s) ({why}; endpoints: {self.describe_health()})"
            fix = "check the server, or raise retry.max_attempts / retry.budget_s"
        else:
            what = "refused the request (not retried)"
            fix = "fix the request: model name, max_tokens vs the server's limits, auth token"
        return EndpointError(
            f"endpoint {endpoint.url} {what}; last status: {failure.label}: {detail}; {fix}",
            endpoint=endpoint.url,
            status=failure.status,
        )

    def describe_health(self) -> str:
        now = time.monotonic()
        return "; ".join(e.describe(now) for e in self.endpoints)

    def stats(self) -> dict[str, dict[str, int]]:
        return {e.url: {"sent": e.sent, "in_flight": e.in_flight} for e in self.endpoints}

    async def check_reachable(self, timeout_s: float = 5.0) -> None:
        """Before the first call: fail in seconds when no endpoint accepts a connection at all.

        Any HTTP answer counts as reachable (a loading TGI answers 503): the retry policy is
        for failures during the run. Unreachable ones among reachable ones are only logged.
        """
        results = await asyncio.gather(*(_connect_error(e.url, timeout_s) for e in self.endpoints))
        down = [f"{e.url} ({err})" for e, err in zip(self.endpoints, results, strict=True) if err]
        if len(down) == len(self.endpoints):
            raise EndpointError(
                f"no endpoint accepts connections: {'; '.join(down)}; start the server or fix the endpoint url"
            )
        for item in down:
            logger.warning("endpoint %s is unreachable; the others take its load", item)

    async def identify(self) -> list[str]:
        """Ask each server which model it serves (TGI `/info`, else `/v1/models`), before the
        first call; the ids (with TGI's revision sha) go into `model_id` and the fingerprint.
        Servers that say nothing leave the configured label as the only identity."""
        found = await asyncio.gather(*(served_models(e.url) for e in self.endpoints))
        self.served = sorted({model for models in found for model in models})
        if len(self.served) > 1 and all(found):
            logger.warning(
                "the endpoints of one pool serve different models (%s); their replies share one "
                "cache identity and one corpus",
                ", ".join(self.served),
            )
        self._model_id = f"{self._label}@{'+'.join(self.served)}" if self.served else self._label
        return self.served

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            for client in endpoint.clients:
                await client.close()


async def served_models(url: str, timeout_s: float = 5.0) -> list[str]:
    """The model ids a server reports; [] when it answers neither TGI's nor OpenAI's listing."""
    async with new_async_client() as client:
        info = await get_json(client, f"{url}/info")
        if isinstance(info, dict) and isinstance(info.get("model_id"), str):
            sha = info.get("model_sha")
            return [f"{info['model_id']}@{sha}" if isinstance(sha, str) and sha else info["model_id"]]
        listing = await get_json(client, f"{url}/v1/models")
    data = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(data, list):
        return []
    return sorted({str(item["id"]) for item in data if isinstance(item, dict) and item.get("id")})


async def _connect_error(url: str, timeout_s: float) -> str | None:
    """None if `url` answers HTTP at all, else why not (refused, timed out, unknown host)."""
    async with new_async_client() as client:
        try:
            await client.get(f"{url}/v1/models", timeout=timeout_s)
        except httpx.TimeoutException:
            return f"no answer within {timeout_s:.0f} s"
        except (httpx.HTTPError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return None
