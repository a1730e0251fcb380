"""A loopback HTTP proxy that injects faults in front of a real OpenAI-compatible server.

Each incoming POST (a model call) takes the next action from a script (then `pass` forever);
GETs (the client's questions about the server: /info, /props, /v1/models) are forwarded as they
are and counted in `probes`, so a script's faults land on calls:
  ("pass",)                       forward to the upstream server
  ("status", code, headers[, body]) answer with that status and a JSON error body (TGI's
                                  shape by default; `body` a dict to send instead)
  ("slow", seconds)               wait, then forward (to exceed a client timeout)
  ("reset",)                      abort the TCP connection without a response
  ("truncate",)                   forward, but send only half of the body, then close
  ("garbage",)                    200 with a non-JSON body
It runs its own event loop in a thread so synchronous and asyncio tests can use it alike.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import deque

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FaultProxy:
    def __init__(self, upstream: str, script: list[tuple] | None = None):
        self.upstream = upstream.rstrip("/")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.script: deque[tuple] = deque(script or [])
        self.received = 0
        self.probes = 0
        self.by_action: dict[str, int] = {}
        self.headers_seen: list[dict[str, str]] = []  # every request's headers, in order
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> FaultProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def set_script(self, script: list[tuple]) -> None:
        with self._lock:
            self.script = deque(script)
            self.received = 0
            self.by_action = {}

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._session = aiohttp.ClientSession()
        server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self._ready.set()
        async with server:
            await self._stop.wait()
        await self._session.close()

    # -- one connection ----------------------------------------------------------------------
    def _next_action(self) -> tuple:
        with self._lock:
            self.received += 1
            action = self.script.popleft() if self.script else ("pass",)
            self.by_action[action[0]] = self.by_action.get(action[0], 0) + 1
            return action

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                keep_open = await self._respond(request, writer)
                if not keep_open:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _respond(self, request: tuple, writer: asyncio.StreamWriter) -> bool:
        method, path, headers, body = request
        with self._lock:
            self.headers_seen.append(dict(headers))
            if method == "GET":
                self.probes += 1
        action = self._next_action() if method != "GET" else ("pass",)
        kind = action[0]
        if kind == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            writer.transport.abort()
            return False
        if kind == "status":
            code, extra = action[1], action[2] if len(action) > 2 else {}
            body = action[3] if len(action) > 3 else {"error": "injected fault", "error_type": "injected"}
            payload = json.dumps(body).encode()
            await _write(writer, code, payload, extra)
            return True
        if kind == "garbage":
            await _write(writer, 200, b"<html>upstream hiccup</html>", {})
            return True
        if kind == "slow":
            await asyncio.sleep(action[1])
        status, payload = await self._forward(method, path, headers, body)
        if kind == "truncate":
            head = f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
            head += f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode() + payload[: len(payload) // 2])
            await writer.drain()
            return False
        await _write(writer, status, payload, {})
        return True

    async def _forward(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, bytes]:
        keep = {k: v for k, v in headers.items() if k in {"content-type", "authorization"}}
        async with self._session.request(method, self.upstream + path, data=body, headers=keep) as r:
            return r.status, await r.read()


async def _read_request(reader: asyncio.StreamReader):
    line = await reader.readline()
    if not line:
        return None
    method, path, _ = line.decode().split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        key, value = raw.decode().split(":", 1)
        headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return method, path, headers, body


async def _write(writer: asyncio.StreamWriter, status: int, payload: bytes, extra: dict) -> None:
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
    writer.write(head.encode() + b"\r\n" + payload)
    await writer.drain()
