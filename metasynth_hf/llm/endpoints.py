"""A pool of OpenAI-compatible endpoints (TGI, vLLM, llama.cpp, ...) behind one ChatModel.

Each call goes to the least-loaded healthy endpoint. What went wrong is read from what the server
said (`errors_http.classify`): an overload (TGI's 429 without Retry-After) lowers that endpoint's
admitted concurrency and waits for a slot, never counting as a failed attempt; a refused grammar
turns structured output off for that endpoint, once, and resends the calls it refused; a prompt
too long for the reply asked is resent with `max_tokens` fitted to the room the server reported.
Other failures are retried with exponential backoff and full jitter (Retry-After honoured)
within a bounded number of attempts and a time budget; an endpoint that keeps failing is
benched for a cool-down, then re-probed with a single request. Other 4xx are not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import time
from typing import Any
from urllib.parse import urlsplit

from huggingface_hub import AsyncInferenceClient, get_token
from huggingface_hub.errors import HfHubHTTPError

from metasynth_hf.errors import ContextLengthError, EndpointError
from metasynth_hf.llm.admission import Admission
from metasynth_hf.llm.base import Message, Reply, SamplingParams, Usage
from metasynth_hf.llm.config import DEFAULT_MODEL, EndpointConfig, RetryConfig
from metasynth_hf.llm.dialects import DIALECTS, Dialect, Probe, RequestNotAdmitted, ServerLimits, detect, probe_server
from metasynth_hf.llm.errors_http import Failure, MalformedReply, classify
from metasynth_hf.llm.http import allow_endpoint

logger = logging.getLogger(__name__)


#: `asyncio.timeout` (3.11+): wait_for would wrap every call in a task of its own (3.10, 3.11).
_TIMEOUT = getattr(asyncio, "timeout", None)
#: Hosts that get the Hugging Face token by default (Inference Endpoints, the router, Spaces).
HF_HOST_SUFFIXES = ("huggingface.co", "huggingface.cloud", "hf.space")
#: Requests in flight per HTTP client (each has its own connection pool, httpx' default 100).
CONNECTIONS_PER_CLIENT = 64
#: Requests in flight when neither the config nor the server sets a limit (the run's lanes bound it).
UNBOUNDED = 4096
#: The fewest reply tokens worth asking for when a prompt leaves little room in the context
#: (and never fewer than half of those asked).
MIN_REPLY_TOKENS = 16


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


class AttemptError(Exception):
    """One attempt on one endpoint failed in a way the pool decides about (`failure`)."""

    def __init__(self, failure: Failure, structured: bool):
        super().__init__(failure.label)
        self.failure = failure
        self.structured = structured  # the request carried a response format


class Endpoint:
    """One server: its dialect and limits, admitted concurrency, clients and health.

    Health has two separate brakes. A rate limit (a failure with `Retry-After`) holds requests to
    the endpoint until that moment and never benches it: the server is up and said when to come
    back. A down endpoint of a pool (connection errors, timeouts, 5xx) is benched after
    `failures_to_cooldown` consecutive failures, first for `cooldown_s`, doubling on every failed
    probe up to `max_cooldown_s`, never past the call's budget; one request then probes it. A
    pool's only endpoint is never benched: there is nowhere else to go, so its retries are
    spaced by the backoff alone. Overload is neither: it is `admission`'s business.
    """

    def __init__(
        self, config: EndpointConfig, retry: RetryConfig, changed: asyncio.Event | None = None, *, share: int = 1
    ):
        self.config = config
        self.retry = retry
        self.share = max(1, share)  # processes sharing this server's stated cap (shards of a run)
        self._token = endpoint_token(config)
        allow_endpoint(config.url, self._token)  # the HTTP hook enforces it: no stored token leaks
        # Clients are added as requests in flight grow, one per CONNECTIONS_PER_CLIENT: httpx'
        # pool scans its connections and queued requests on every request and response, so one
        # pool under 256 requests costs the client process more CPU than the rest of a template
        # document (benchmarks/bench_cli_throughput.py); several small pools keep the scans short.
        self.clients: list[AsyncInferenceClient] = []
        self._client_active: list[int] = []
        self.admission = Admission(config.max_concurrency or UNBOUNDED)
        self.in_flight = 0  # picked for a request (queued for a slot or sent)
        self.consecutive_failures = 0
        self.benched_until = 0.0
        self.benches = 0  # consecutive benches: each failed probe doubles the cool-down
        self.rate_limited_until = 0.0
        self.last_failure = ""
        self.probing = False
        self.changed = changed or asyncio.Event()  # set on every health change: waiters wake
        self.dialect: Dialect | None = None if config.server_kind == "auto" else DIALECTS[config.server_kind]
        self.limits = ServerLimits()
        self.request_model = config.model  # the `model` field of each request
        self.probe: Probe | None = None
        self._probe_lock = asyncio.Lock()
        self.sent = 0
        self.structured = {"constrained": 0, "unconstrained": 0, "rejected": 0}
        self.lost_constraint = ""  # why structured output was turned off, if it was (then plain requests)
        self.max_tokens_fitted = 0

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def server_kind(self) -> str | None:
        return self.dialect.name if self.dialect else None

    @property
    def peak_active(self) -> int:
        return self.admission.peak_active

    def load(self) -> float:
        return self.in_flight / self.admission.admitted

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

    async def ensure_probed(self) -> Probe:
        """Ask the server once what it is and what it admits; set the dialect and the limits.

        The probe waits as long as a request would (`timeout_s`): a server busy with earlier
        requests is slow, not different."""
        if self.probe is None:
            async with self._probe_lock:
                if self.probe is None:
                    probe = await probe_server(self.url, self.config.timeout_s)
                    self._apply(probe)
                    self.probe = probe
        return self.probe

    def _apply(self, probe: Probe) -> None:
        detected = detect(probe)
        if self.dialect is None:
            self.dialect = detected
        self.limits = detected.limits(probe)
        listed = served_models(probe)
        if self.config.model == DEFAULT_MODEL and detected.name != "tgi" and len(listed) == 1:
            # vLLM and most OpenAI servers answer 404 to a model name they do not serve; TGI ignores it
            self.request_model = listed[0]
        cap = self.limits.max_concurrent_requests
        if cap:  # the server's own admission limit, shared by the processes of one run
            mine = max(1, cap // self.share)
            if self.config.max_concurrency and self.config.max_concurrency > mine:
                logger.warning(
                    "endpoint %s admits %d requests at once%s; max_concurrency=%d lowered to %d",
                    self.url,
                    cap,
                    f" ({mine} for each of {self.share} shards)" if self.share > 1 else "",
                    self.config.max_concurrency,
                    mine,
                )
            self.admission.set_ceiling(min(self.config.max_concurrency or mine, mine))
        logger.info(
            "endpoint %s: %s server, structured output by %s, limits %s, admits %d at once",
            self.url,
            detected.name,
            self.dialect.mode,
            self.limits.to_dict() or "not stated",
            self.admission.admitted,
        )

    def lose_constraint(self, failure: Failure) -> None:
        """The server refused our structured-output request: plain requests from now on (once)."""
        if self.lost_constraint or (self.dialect is not None and self.dialect.name == "none"):
            return
        self.lost_constraint = f"{failure.label}: {failure.message}"[:300]
        logger.warning(
            "endpoint %s refused structured output (%s); its calls go unconstrained from now on, "
            "replies parsed tolerantly",
            self.url,
            self.lost_constraint,
        )

    def _client(self) -> int:
        """The least busy HTTP client, a new one when all carry CONNECTIONS_PER_CLIENT."""
        active = self._client_active
        if active:
            pick = min(range(len(active)), key=active.__getitem__)
            if active[pick] < CONNECTIONS_PER_CLIENT:
                return pick
        self.clients.append(AsyncInferenceClient(base_url=self.url, token=self._token, timeout=self.config.timeout_s))
        active.append(0)
        return len(active) - 1

    async def send(self, messages: list[Message], params: SamplingParams, max_tokens: int | None = None) -> Reply:
        """One attempt; raises AttemptError for what the server or the transport did wrong."""
        await self.ensure_probed()
        assert self.dialect is not None
        server = self.dialect  # its validation rules apply to every request
        dialect = server if params.json_schema is not None and not self.lost_constraint else DIALECTS["none"]
        try:
            kwargs: dict[str, Any] = server.sampling(params, self.limits)
        except RequestNotAdmitted as exc:
            raise EndpointError(f"endpoint {self.url} would refuse the request: {exc}", endpoint=self.url) from None
        if max_tokens is not None:
            kwargs["max_tokens"] = max_tokens
        if params.json_schema is not None:
            kwargs.update(dialect.request(params.json_schema))
        structured = "response_format" in kwargs or "extra_body" in kwargs
        await self.admission.acquire()
        self.sent += 1
        ok = False
        try:
            reply = await self._post(messages, kwargs)
            ok = True
        except Exception as exc:  # noqa: BLE001 - classified; unknown errors re-raised
            failure = classify(exc)
            if failure is None:
                raise
            if failure.reason == "overloaded":
                self.admission.overloaded()
            if failure.reason == "grammar" and structured:
                self.structured["rejected"] += 1
            raise AttemptError(failure, structured) from exc
        finally:
            self.admission.release(ok=ok)
        if params.json_schema is not None:
            self.structured["constrained" if dialect.constrains else "unconstrained"] += 1
        return reply

    async def _post(self, messages: list[Message], kwargs: dict[str, Any]) -> Reply:
        started = time.monotonic()
        pick = self._client()
        self._client_active[pick] += 1
        try:
            out = await self.clients[pick].chat_completion(messages, model=self.request_model, **kwargs)
            choice = out.choices[0]
            text = choice.message.content
            usage = out.usage
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, json.JSONDecodeError | HfHubHTTPError):  # BadRequestError is a ValueError too
                raise
            # huggingface_hub parses the body into dataclasses: a truncated or foreign body ends here
            raise MalformedReply(f"malformed response body ({type(exc).__name__}: {exc})") from exc
        finally:
            self._client_active[pick] -= 1
        if not isinstance(text, str) or not text.strip():
            # a server fault (content null or blank): retried, and never cached as an answer
            raise MalformedReply(f"empty reply (200 with {'no' if text is None else 'blank'} message content)")
        return Reply(
            text=text,
            usage=Usage(
                getattr(usage, "prompt_tokens", 0) or 0,
                getattr(usage, "completion_tokens", 0) or 0,
            ),
            model=out.model or self.request_model,
            latency_s=time.monotonic() - started,
            endpoint=self.url,
            finish_reason=choice.finish_reason,
        )

    def report(self) -> dict[str, Any]:
        """What this endpoint is and did: for the run summary and its closing lines."""
        return {
            "server_kind": self.server_kind or "unknown",
            "structured_output": (
                f"off after the server refused it ({self.dialect.mode if self.dialect else 'unknown'} before)"
                if self.lost_constraint
                else (self.dialect.mode if self.dialect else "unknown")
            ),
            "structured_calls": dict(self.structured),
            "lost_constraint": self.lost_constraint or None,
            "limits": self.limits.to_dict(),
            "concurrency": self.admission.report(),
            "max_tokens_fitted": self.max_tokens_fitted,
            "sent": self.sent,
        }


class EndpointPool:
    """ChatModel over several endpoints serving the same model."""

    def __init__(self, endpoints: list[EndpointConfig], retry: RetryConfig, *, model_id: str = "", share: int = 1):
        if not endpoints:
            raise EndpointError("an endpoint pool needs at least one endpoint url")
        self.retry = retry
        self._changed = asyncio.Event()  # any endpoint's health changed: waiting lanes re-pick
        self.endpoints = [Endpoint(cfg, retry, self._changed, share=share) for cfg in endpoints]
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
        attempt in flight included (it is cut at the deadline). Overloads, a refused grammar and
        a fitted `max_tokens` resend without using up an attempt."""
        params = params or SamplingParams()
        deadline = time.monotonic() + self.retry.budget_s
        last: tuple[Endpoint, Failure] | None = None
        attempt, cap = 0, None
        while attempt < self.retry.max_attempts:
            endpoint = self._pick(last[0] if last else None)
            if endpoint is None:
                await self._wait_for_endpoint(deadline)
                continue
            if endpoint.probe is None:  # once per endpoint, outside the call's budget
                await endpoint.ensure_probed()
            endpoint.in_flight += 1
            try:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                if _TIMEOUT is not None:  # 3.11+: a deadline on this task, not a new task per call
                    async with _TIMEOUT(left):
                        reply = await endpoint.send(messages, params, cap)
                else:
                    reply = await asyncio.wait_for(endpoint.send(messages, params, cap), timeout=left)
            except asyncio.CancelledError:
                endpoint.probing = False
                endpoint.changed.set()
                raise
            except (AttemptError, TimeoutError, asyncio.TimeoutError) as exc:  # noqa: UP041 - distinct before 3.11
                failure = exc.failure if isinstance(exc, AttemptError) else Failure(True, "timeout", reason="timeout")
                cause = exc.__cause__ if isinstance(exc, AttemptError) and exc.__cause__ else exc
                last = (endpoint, failure)
                now = time.monotonic()
                logger.info("attempt %d on %s failed: %s", attempt + 1, endpoint.url, failure.label)
                resend = await self._resend(endpoint, exc, failure, params, cap, deadline)
                if resend is not None:
                    cap = resend or cap
                    continue
                if not failure.retryable:
                    endpoint.probing = False
                    endpoint.changed.set()
                    raise self._error(endpoint, failure, attempt + 1, cause) from cause
                endpoint.mark_failure(now, failure, deadline - now, can_bench=len(self.endpoints) > 1)
                attempt += 1
                if now >= deadline:
                    raise self._error(endpoint, failure, attempt, cause, budget=True) from cause
                if attempt >= self.retry.max_attempts:
                    raise self._error(endpoint, failure, attempt, cause) from cause
                delay = self._backoff(attempt - 1, failure)
                if now + delay > deadline:
                    raise self._error(endpoint, failure, attempt, cause, budget=True) from cause
                if failure.retry_after_s is None or len(self.endpoints) == 1:
                    await asyncio.sleep(delay)  # with Retry-After and other endpoints: go elsewhere now
                continue
            finally:
                endpoint.in_flight -= 1
            endpoint.mark_success()
            return reply
        raise AssertionError("unreachable: the loop returns or raises")

    async def _resend(
        self,
        endpoint: Endpoint,
        exc: BaseException,
        failure: Failure,
        params: SamplingParams,
        cap: int | None,
        deadline: float,
    ) -> int | None:
        """Whether to send the same call again without using up an attempt: None (no), 0 (yes),
        or the `max_tokens` that fits the context (yes, with it)."""
        if failure.reason == "overloaded":
            if time.monotonic() >= deadline:
                raise self._error(endpoint, failure, 1, exc, budget=True) from exc
            if endpoint.admission.admitted == 1:  # full with other clients' requests: wait a little
                await asyncio.sleep(
                    min(self._rng.uniform(0, self.retry.base_delay_s * 2), deadline - time.monotonic())
                )
            return 0
        if failure.reason == "grammar" and isinstance(exc, AttemptError) and exc.structured:
            endpoint.lose_constraint(failure)  # once; the calls it refused in flight resend plain too
            return 0
        if failure.reason == "context_length":
            fitted = _fit_max_tokens(failure, cap or params.max_tokens)
            if fitted is None:
                raise _context_error(endpoint, failure, params) from exc
            endpoint.max_tokens_fitted += 1
            return fitted
        return None

    def _error(
        self, endpoint: Endpoint, failure: Failure, attempts: int, exc: BaseException, *, budget: bool = False
    ) -> EndpointError:
        detail = failure.message or (str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
        if failure.reason == "overloaded":
            what = f"stayed overloaded for the whole retry budget (retry.budget_s={self.retry.budget_s:g} s)"
            fix = "add endpoints, lower --lanes, or raise retry.budget_s"
        elif failure.retryable:
            why = f"retry.budget_s={self.retry.budget_s:g} s ran out" if budget else "retry.max_attempts reached"
            what = f"gave up after {attempts} attempt(s) ({why}; endpoints: {self.describe_health()})"
            fix = "check the server, or raise retry.max_attempts / retry.budget_s"
        else:
            what = "refused the request (not retried)"
            fix = "fix the request: model name, sampling settings vs the server's limits, auth token"
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

    def report(self) -> dict[str, Any]:
        """Per endpoint: server kind, structured-output mode and tallies, limits, concurrency."""
        return {e.url: e.report() for e in self.endpoints}

    async def check_reachable(self) -> None:
        """Before the first call: wait for a server that is still starting, up to
        `retry.startup_timeout_s`, then fail with a clear error.

        TGI and vLLM open their port only once the model is loaded, so a refused connection
        may be a loading server; one that accepts the connection is up, however slowly it
        answers (the calls' own timeouts and retries apply from there)."""
        deadline = time.monotonic() + self.retry.startup_timeout_s
        announced = False
        while True:
            errors = await asyncio.gather(*(_connect_error(e.url) for e in self.endpoints))
            down = [f"{e.url} ({err})" for e, err in zip(self.endpoints, errors, strict=True) if err]
            if len(down) < len(self.endpoints):
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise EndpointError(
                    f"no endpoint accepts connections after waiting {self.retry.startup_timeout_s:g} s "
                    f"(retry.startup_timeout_s): {'; '.join(down)}; start the server or fix the endpoint url"
                )
            if not announced:
                logger.warning(
                    "waiting for %s to accept connections (a server still loading its model refuses them); "
                    "giving up in %.0f s (retry.startup_timeout_s)",
                    ", ".join(e.url for e in self.endpoints),
                    left,
                )
                announced = True
            await asyncio.sleep(min(1.0, left))
        for item in down:
            logger.warning("endpoint %s is unreachable; the others take its load", item)

    async def identify(self) -> list[str]:
        """Ask each server what it is and which model it serves (TGI `/info`, else `/v1/models`),
        before the first call: its dialect and limits are set, and the model ids (with TGI's
        revision sha) go into `model_id` and the fingerprint. Servers that say nothing leave the
        configured label as the only identity."""
        probes = await asyncio.gather(*(e.ensure_probed() for e in self.endpoints))
        found = [served_models(probe) for probe in probes]
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


def served_models(probe: Probe) -> list[str]:
    """The model ids a server reports; [] when it answers neither TGI's nor OpenAI's listing."""
    info = probe.info
    if isinstance(info, dict) and isinstance(info.get("model_id"), str):
        sha = info.get("model_sha")
        return [f"{info['model_id']}@{sha}" if isinstance(sha, str) and sha else info["model_id"]]
    data = probe.models.get("data") if isinstance(probe.models, dict) else None
    if not isinstance(data, list):
        return []
    return sorted({str(item["id"]) for item in data if isinstance(item, dict) and item.get("id")})


def _fit_max_tokens(failure: Failure, asked: int) -> int | None:
    """The `max_tokens` that fits the room the server reported, or None when there is none."""
    if failure.context_limit is None or failure.prompt_tokens is None:
        return None
    room = failure.context_limit - failure.prompt_tokens
    if room < max(MIN_REPLY_TOKENS, asked // 2) or room >= asked:
        return None  # less than half the reply asked: shortening the prompt is the better fix
    return room


def _context_error(endpoint: Endpoint, failure: Failure, params: SamplingParams) -> ContextLengthError:
    limit = failure.context_limit or endpoint.limits.max_total_tokens or endpoint.limits.max_input_tokens
    said = f"{failure.prompt_tokens} prompt tokens" if failure.prompt_tokens else "the prompt"
    return ContextLengthError(
        f"endpoint {endpoint.url}: {said} + max_tokens={params.max_tokens} do not fit the model's context"
        f"{f' of {limit} tokens' if limit else ''} ({failure.message}); shorten the prompt "
        "(instance_table.max_entries, stop.max_turns, target_words) or serve a longer context "
        "(TGI --max-total-tokens / --max-input-tokens, vLLM --max-model-len)",
        endpoint=endpoint.url,
        status=failure.status,
        limit=limit,
        prompt_tokens=failure.prompt_tokens,
    )


async def _connect_error(url: str, timeout_s: float = 5.0) -> str | None:
    """None if `url`'s host accepts a TCP connection, else why not (refused, timed out, unknown host)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), timeout_s)
    except (TimeoutError, asyncio.TimeoutError):  # noqa: UP041 - distinct before 3.11
        return f"no connection within {timeout_s:.0f} s"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}" if str(exc) else type(exc).__name__
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None
