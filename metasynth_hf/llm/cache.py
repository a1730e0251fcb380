"""A response cache so a resumed or repeated run never pays for the same call twice.

SQLite in WAL mode: many processes (shards, `num_proc` workers) may read and write one file.
The key is a SHA-256 over (model id, messages, sampling params incl. seed); each call's
seed is derived deterministically by the caller, so a rerun asks the same questions and gets
the same answers, byte for byte.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import sqlite3
import threading
import time
import weakref
from pathlib import Path

from metasynth_hf.errors import CacheError
from metasynth_hf.llm.base import ChatModel, Message, Reply, SamplingParams, Usage

logger = logging.getLogger(__name__)

_APP_ID = "metasynth-hf-response-cache"
_SCHEMA_VERSION = "1"


def cache_key(model_id: str, messages: list[Message], params: SamplingParams) -> str:
    payload = {"model": model_id, "messages": messages, "params": params.to_key()}
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


#: Group commit of the response cache: a transaction per this many replies or this many seconds.
COMMIT_EVERY, COMMIT_AFTER_S = 64, 0.05
_OPEN: weakref.WeakSet = weakref.WeakSet()  # caches with replies to commit when the process exits


@atexit.register
def _flush_open_caches() -> None:
    for cache in list(_OPEN):
        try:
            cache.flush()
        except Exception:  # noqa: BLE001 - best effort at exit; close() reports errors
            logger.warning("could not commit the last replies of %s", cache.path)


class ResponseCache:
    """Thread- and process-safe key -> Reply store backed by one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        # Replies are committed in groups of up to COMMIT_EVERY, at most COMMIT_AFTER_S apart while
        # they keep coming, so a kill -9 loses at most one group (paid again on resume).
        self._pending: dict[str, tuple[str, str, float]] = {}
        self._last_commit = 0.0
        _OPEN.add(self)
        self._conn: sqlite3.Connection | None = None  # opened on first use: a run with no calls
        # to make (a complete corpus rerun) never touches the file, even a damaged one

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CacheError(f"cannot create the cache folder {self.path.parent}: {exc.strerror or exc}") from exc
            try:
                conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
                self._conn = conn
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                self._check_or_init()
            except sqlite3.DatabaseError as exc:
                self._conn = None
                raise self._damaged(exc) from exc
        return self._conn

    def _damaged(self, exc: Exception) -> CacheError:
        return CacheError(
            f"response cache {self.path} is damaged ({exc}); finished documents are safe in the shards: "
            f"move the file aside (e.g. mv {self.path} {self.path}.bad) and rerun, which pays again only "
            "for the calls of unfinished documents"
        )

    def _check_or_init(self) -> None:
        # One immediate transaction for "look, then create": two processes opening a new cache
        # file at once (the builder's parts) otherwise both read, both try to write, and one
        # gets "database is locked" at once instead of waiting its turn.
        db = self._conn
        assert db is not None  # called by `_db` right after it opened the connection
        db.execute("BEGIN IMMEDIATE")
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables:
                db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT)")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT,"
                    " reply TEXT NOT NULL, created REAL)"
                )
                db.executemany(
                    "INSERT OR IGNORE INTO meta VALUES (?, ?)",
                    [("app", _APP_ID), ("schema", _SCHEMA_VERSION)],
                )
            db.commit()
        except BaseException:
            db.rollback()
            raise
        if not tables:
            return
        meta = dict(db.execute("SELECT k, v FROM meta")) if "meta" in tables else {}
        if meta.get("app") != _APP_ID:
            raise CacheError(
                f"{self.path} is an SQLite file of another program (tables: {sorted(tables)}); "
                "point cache_path at a new file"
            )
        if meta.get("schema") != _SCHEMA_VERSION:
            raise CacheError(
                f"{self.path} has cache schema {meta.get('schema')}, this version needs "
                f"{_SCHEMA_VERSION}; point cache_path at a new file"
            )

    def get(self, key: str) -> Reply | None:
        with self._lock:
            pending = self._pending.get(key)
            try:
                row = (
                    (pending[1],)
                    if pending
                    else self._db.execute("SELECT reply FROM responses WHERE key = ?", (key,)).fetchone()
                )
            except sqlite3.DatabaseError as exc:
                raise self._damaged(exc) from exc
        if row is None:
            self.misses += 1
            return None
        try:
            data = json.loads(row[0])
            reply = Reply(**{**data, "usage": Usage(**data["usage"]), "cached": True})
        except (ValueError, TypeError, KeyError) as exc:
            raise self._damaged(exc) from exc
        self.hits += 1
        return reply

    def put(self, key: str, reply: Reply) -> None:
        usage = reply.usage
        data = {
            "text": reply.text,
            "usage": {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
            },
            "model": reply.model,
            "latency_s": reply.latency_s,
            "endpoint": reply.endpoint,
            "finish_reason": reply.finish_reason,
        }  # by hand: dataclasses.asdict deep-copies and costs more than the insert
        blob = json.dumps(data, ensure_ascii=False)
        now = time.time()
        with self._lock:
            self._pending[key] = (reply.model, blob, now)
            # slow replies (a local model, a busy server) are committed one by one; a burst is
            # grouped until COMMIT_AFTER_S after the last commit or COMMIT_EVERY replies
            if len(self._pending) >= COMMIT_EVERY or now - self._last_commit >= COMMIT_AFTER_S:
                self._commit()

    def _commit(self) -> None:
        """One transaction for the pending replies (the caller holds the lock)."""
        if not self._pending:
            return
        rows = [(key, model, blob, created) for key, (model, blob, created) in self._pending.items()]
        try:
            with self._db as db:
                db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)", rows)
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc
        self._pending.clear()
        self._last_commit = time.time()

    def flush(self) -> None:
        """Commit the replies not yet written (also done by `close`)."""
        with self._lock:
            self._commit()

    def __len__(self) -> int:
        with self._lock:
            self._commit()
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._commit()
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class CachedChatModel:
    """Wraps a ChatModel: answers from the cache when it can, stores every new non-blank reply."""

    def __init__(self, inner: ChatModel, cache: ResponseCache):
        self.inner = inner
        self.cache = cache

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    async def chat(self, messages: list[Message], params: SamplingParams | None = None) -> Reply:
        params = params or SamplingParams()
        key = cache_key(self.model_id, messages, params)
        hit = self.cache.get(key)
        if hit is not None and hit.text.strip():
            return hit
        reply = await self.inner.chat(messages, params)
        if reply.text.strip():  # a blank reply is no answer: asked again next time, never replayed
            self.cache.put(key, reply)
        return reply

    async def aclose(self) -> None:
        await self.inner.aclose()
