"""The HTTP client huggingface_hub's AsyncInferenceClient uses, made fit for private endpoints.

`HF_HUB_OFFLINE=1` makes huggingface_hub refuse every request, including calls to a TGI server
on loopback or inside the cluster. Air-gapped clusters set it routinely, so we install an
async client factory (huggingface_hub's documented hook) that keeps the offline guard for
every host except the inference endpoints the user configured. httpx' default pool (100
connections) is kept on purpose: its per-request scan grows with the pool (an unbounded one
halved throughput at 256 requests in flight); an endpoint that allows more requests in flight
than one small pool should carry uses several clients instead (`endpoints.CONNECTIONS_PER_CLIENT`).
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import httpx2 as httpx  # huggingface_hub >= 2's HTTP stack
from huggingface_hub import constants, set_async_client_factory
from huggingface_hub.errors import OfflineModeIsEnabled

# Configured endpoints (host, port) -> the only Authorization value they may get (None: none).
_endpoints: dict[tuple[str, int | None], str | None] = {}
_lock = threading.Lock()
_installed = False


def _host_key(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    return (parts.hostname or "", parts.port)


async def _offline_guard(request: httpx.Request) -> None:
    key = (request.url.host, request.url.port)
    if key in _endpoints:  # an endpoint: exactly the credential its config allows
        request.headers.pop("authorization", None)
        if authorization := _endpoints[key]:
            request.headers["authorization"] = authorization
    if not constants.is_offline_mode():
        return
    if key in _endpoints:
        return
    raise OfflineModeIsEnabled(
        f"Cannot reach {request.url}: offline mode is enabled (HF_HUB_OFFLINE) and this host "
        "is not a configured inference endpoint."
    )


async def _read_error_body(response: httpx.Response) -> None:
    # huggingface_hub reads error bodies so its exceptions carry the server's message.
    if response.status_code >= 400:
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) < 1_000_000:
            await response.aread()


def new_async_client() -> httpx.AsyncClient:
    """An async client with the endpoint-aware offline guard (otherwise huggingface_hub's)."""
    return httpx.AsyncClient(
        event_hooks={"request": [_offline_guard], "response": [_read_error_body]},
        follow_redirects=True,
        timeout=None,
    )


def allow_endpoint(url: str, token: str | None = None) -> None:
    """Let requests to `url`'s host:port through even with HF_HUB_OFFLINE=1, carrying `token`
    as their only credential (None: no Authorization header, whatever huggingface_hub adds)."""
    global _installed
    with _lock:
        _endpoints[_host_key(url)] = f"Bearer {token}" if token else None
        if not _installed:
            set_async_client_factory(new_async_client)
            _installed = True
