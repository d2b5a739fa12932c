"""The Redis backend: groups across processes and hosts, through Redis Streams.

A publish is one ``XADD`` to the group's stream, trimmed to about ``MAXLEN`` entries (never
expired). Each process runs one reader task that follows, with ``XREAD BLOCK``, the streams of
the groups it has members in, from the last id it saw; every message costs one Redis read per
process, whatever the number of local sockets, which the local fan-out then serves. When the
connection drops the reader reconnects with backoff and resumes from its last ids, so nothing
is lost while the stream still holds it; if the stream was trimmed past a resume id the gap is
counted and logged. Presence is one hash per group (process id -> local member count) whose
entries count only while the process's heartbeat key lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import threading
from typing import Any, ClassVar, Final

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT, KeyT, StreamIdT

from . import GroupBackend, SlowPolicy, decode_control, dispatch_control

__all__ = ("RedisBackend",)

_TEXT: Final = b"s"
_BINARY: Final = b"b"
_BLOCK_MS: Final = 5000  # a quiet reader re-issues XREAD this often
_BATCH: Final = 1000  # entries per stream per XREAD; a full batch means the reader is behind
_HEARTBEAT: Final = 10.0  # seconds between heartbeats; a process is dead after 3 missed
_BACKOFF: Final = (0.05, 2.0)  # first and largest reconnect delay, in seconds
_SYNC_TIMEOUT: Final = 5.0  # seconds: connecting and each reply of the sync client
_LOST: Final = (RedisConnectionError, RedisTimeoutError, OSError)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _control_fields(raw: str) -> dict[FieldT, EncodableT]:
    return {b"c": raw.encode()}


def _streams(positions: dict[bytes, bytes]) -> dict[KeyT, StreamIdT]:
    return dict(positions.items())


def _id(raw: bytes) -> tuple[int, int]:
    ms, _, seq = raw.partition(b"-")
    return int(ms), int(seq or 0)


class RedisBackend(GroupBackend):
    """Groups across every process that shares the Redis at ``url`` and ``prefix``.

    Parameters:
        url: the Redis URL, e.g. ``redis://127.0.0.1:6379/0`` (``rediss://`` for TLS).
        prefix: the start of every key, so several projects can share one Redis.
        maxlen: entries kept per group stream (approximately, at least this many): the number
            of messages a process may miss while disconnected and still catch up.
        queue_size, slow_policy: see ``GroupBackend``.
    """

    OPTIONS: ClassVar[frozenset[str]] = GroupBackend.OPTIONS | {"URL", "PREFIX", "MAXLEN"}

    def __init__(
        self,
        *,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = "aiodjango",
        maxlen: int = 10_000,
        queue_size: int = 1000,
        slow_policy: SlowPolicy = "close",
    ) -> None:
        super().__init__(queue_size=queue_size, slow_policy=slow_policy)
        self.url: Final = url
        self.prefix: Final = prefix
        self.maxlen: Final = maxlen
        self.worker: Final = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._control_key: Final = f"{prefix}:control".encode()
        self._wake_key: Final = f"{prefix}:wake:{self.worker}".encode()
        self._alive_key: Final = f"{prefix}:alive:{self.worker}"
        self._positions: dict[bytes, bytes] = {}  # stream key -> last id read
        self._ordinals: dict[bytes, int] = {}  # stream key -> entries-added count at that id
        self._group_of: dict[bytes, str] = {}
        self._dirty: set[str] = set()
        self._presence_lock = asyncio.Lock()
        self._sync: redis.Redis | None = None
        self._sync_lock = threading.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._redis: aioredis.Redis | None = None
        self._reader: aioredis.Redis | None = None

    def group_key(self, group: str) -> bytes:
        """The Redis key of ``group``'s stream."""
        return f"{self.prefix}:g:{group}".encode()

    def _presence_key(self, group: str) -> str:
        return f"{self.prefix}:p:{group}"

    @property
    def client_names(self) -> tuple[str, str]:
        """``CLIENT SETNAME`` of the reader and publisher connections (find them in CLIENT LIST)."""
        return f"{self.prefix}:reader:{self.worker}", f"{self.prefix}:pub:{self.worker}"

    async def _start(self) -> None:
        reader_name, pub_name = self.client_names
        self._redis = aioredis.Redis.from_url(self.url, client_name=pub_name)
        # The reader's one connection (XREAD and catch-up transactions alike), retried by our
        # loop, which counts reconnects, never silently by redis-py's.
        self._reader = aioredis.Redis.from_url(
            self.url,
            client_name=reader_name,
            max_connections=1,
            retry=Retry(NoBackoff(), 0),
            socket_timeout=_BLOCK_MS / 1000 + 10,
            socket_connect_timeout=5,
        )
        await self._follow(self._control_key)
        self._positions[self._wake_key] = b"0-0"
        await self._redis.set(self._alive_key, b"1", ex=int(_HEARTBEAT * 3))
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._read_loop()), loop.create_task(self._heartbeat())]

    async def _stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        assert self._redis is not None and self._reader is not None
        with contextlib.suppress(*_LOST):
            async with self._redis.pipeline(transaction=False) as pipe:
                for group in self._groups:
                    pipe.hdel(self._presence_key(group), self.worker)
                pipe.delete(self._alive_key, self._wake_key)
                await pipe.execute()
        await self._reader.aclose()
        await self._redis.aclose()
        self._positions.clear()
        self._ordinals.clear()
        self._group_of.clear()

    async def _follow(self, key: bytes) -> None:
        """Start following ``key`` from its newest entry (one atomic XINFO: id and count)."""
        assert self._redis is not None
        try:
            info = await self._redis.xinfo_stream(key)
        except ResponseError:  # no such stream yet
            position, ordinal = b"0-0", 0
        else:
            position, ordinal = info["last-generated-id"], info.get("entries-added", -1)
        if key not in self._positions:  # a concurrent add() already follows it from earlier
            self._positions[key] = position
            self._ordinals[key] = ordinal

    # Membership.
    async def _subscribe(self, group: str) -> None:
        key = self.group_key(group)
        await self._follow(key)
        self._group_of[key] = group
        assert self._redis is not None
        # Wakes the reader's XREAD BLOCK so it follows the new stream now; being a stream
        # entry, not a signal, it cannot fall between two XREADs.
        await self._redis.xadd(self._wake_key, {b"w": b""}, maxlen=1, approximate=False)

    def _unsubscribe(self, group: str) -> None:
        key = self.group_key(group)
        self._positions.pop(key, None)
        self._ordinals.pop(key, None)
        self._group_of.pop(key, None)

    async def _presence(self, group: str, local: int) -> None:
        self._dirty.add(group)
        await self._flush_presence()

    async def _flush_presence(self) -> None:
        async with self._presence_lock:  # one writer, so the last write has the last count
            if not self._dirty or self._redis is None:
                return
            dirty, self._dirty = self._dirty, set()
            async with self._redis.pipeline(transaction=False) as pipe:
                for name in dirty:
                    count = len(self._groups.get(name, ()))
                    if count:
                        pipe.hset(self._presence_key(name), self.worker, str(count))
                    else:
                        pipe.hdel(self._presence_key(name), self.worker)
                await pipe.execute()

    async def members(self, group: str) -> int:
        """Sockets in ``group`` over every live process (dead processes' counts are dropped)."""
        assert self._redis is not None, "members() needs a started backend"
        key = self._presence_key(group)
        raw = await self._redis.hgetall(key)
        counts = {_text(worker): int(count) for worker, count in raw.items()}
        if not counts:
            return 0
        workers = list(counts)
        alive = await self._redis.mget([f"{self.prefix}:alive:{w}" for w in workers])
        dead = [w for w, flag in zip(workers, alive, strict=True) if flag is None]
        if dead:
            await self._redis.hdel(key, *dead)
        return sum(int(counts[w]) for w, flag in zip(workers, alive, strict=True) if flag)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(_HEARTBEAT)
            with contextlib.suppress(*_LOST):
                assert self._redis is not None
                await self._redis.set(self._alive_key, b"1", ex=int(_HEARTBEAT * 3))
                self._dirty.update(self._groups)  # rewrites counts lost in a Redis restart
                await self._flush_presence()

    # Publishing.
    def _fields(self, data: str | bytes) -> dict[FieldT, EncodableT]:
        if isinstance(data, str):
            return {b"t": _TEXT, b"d": data.encode()}
        return {b"t": _BINARY, b"d": data}

    async def _publish(self, group: str, data: str | bytes) -> None:
        if self._redis is None:
            # Not started in this loop (e.g. an async task outside the server): one-off client.
            async with aioredis.Redis.from_url(self.url) as client:
                await client.xadd(
                    self.group_key(group),
                    self._fields(data),
                    maxlen=self.maxlen,
                )
            return
        await self._redis.xadd(
            self.group_key(group),
            self._fields(data),
            maxlen=self.maxlen,
        )

    def _sync_client(self) -> redis.Redis:
        with self._sync_lock:
            if self._sync is None:
                # Bounded, so a publish (or a logout's control message) from a Django thread
                # fails with a ConnectionError rather than hanging when Redis is unreachable.
                self._sync = redis.Redis.from_url(
                    self.url,
                    client_name=f"{self.prefix}:sync",
                    socket_connect_timeout=_SYNC_TIMEOUT,
                    socket_timeout=_SYNC_TIMEOUT,
                )
            return self._sync

    def _publish_sync(self, group: str, data: str | bytes) -> None:
        self._sync_client().xadd(
            self.group_key(group),
            self._fields(data),
            maxlen=self.maxlen,
        )

    async def _send_control(self, raw: str) -> None:
        assert self._redis is not None, "send_control() needs a started backend"
        await self._redis.xadd(self._control_key, _control_fields(raw), maxlen=self.maxlen)

    def _send_control_sync(self, raw: str) -> None:
        self._sync_client().xadd(self._control_key, _control_fields(raw), maxlen=self.maxlen)

    # The reader.
    async def _read_loop(self) -> None:
        delay = _BACKOFF[0]
        catch_up = False  # after a reconnect or a full batch: read once, checking for gaps
        while True:
            try:
                reply = await (self._catch_up() if catch_up else self._read())
            except _LOST as exc:
                self._count("reconnects", f"Lost the groups Redis connection ({exc!r}); resuming")
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF[1])
                catch_up = True
                continue
            delay = _BACKOFF[0]
            catch_up = self._handle(reply)

    async def _read(self) -> Any:
        assert self._reader is not None
        return await self._reader.xread(_streams(self._positions), count=_BATCH, block=_BLOCK_MS)

    async def _catch_up(self) -> Any:
        """Read without blocking, atomically with each stream's trim state, to count gaps."""
        assert self._reader is not None
        positions = dict(self._positions)
        keys = [key for key in positions if key != self._wake_key]
        async with self._reader.pipeline(transaction=True) as pipe:
            for key in keys:
                pipe.xinfo_stream(key)
            pipe.xread(_streams(positions), count=_BATCH)
            *infos, reply = await pipe.execute(raise_on_error=False)
        for key, info in zip(keys, infos, strict=True):
            ordinal = self._ordinals.get(key, -1)
            if isinstance(info, ResponseError) or ordinal < 0 or "entries-added" not in info:
                continue  # no stream yet (nothing lost), or a Redis before 7.0 (not counted)
            # Trimming only drops the oldest entries: info says how many were ever dropped.
            lost = info["entries-added"] - info["length"] - ordinal
            if lost > 0:
                self._ordinals[key] = ordinal + lost
                group = self._group_of.get(key, key.decode())
                self._count(
                    "gaps",
                    f"Group {group!r} lost {lost} message(s) for this process: the stream was "
                    f"trimmed past its resume point {positions[key].decode()}; raise MAXLEN",
                )
        if isinstance(reply, Exception):
            raise reply
        return reply

    def _handle(self, reply: Any) -> bool:
        """Deliver one XREAD reply; True when some stream filled its batch (we are behind)."""
        behind = False
        items = reply.items() if isinstance(reply, dict) else (reply or ())
        for key, entries in items:
            if isinstance(entries, list) and entries and isinstance(entries[0], list):
                entries = entries[0]  # RESP3 shape
            position = self._positions.get(key)
            if position is None:
                continue  # the last local member left while we were reading
            behind = behind or len(entries) >= _BATCH
            seen = _id(position)
            for entry_id, fields in entries:
                if _id(entry_id) <= seen:
                    continue
                self._positions[key] = entry_id
                if key in self._ordinals:
                    self._ordinals[key] += 1
                if key == self._control_key:
                    dispatch_control(*decode_control(fields[b"c"]))
                elif key != self._wake_key:
                    data = fields[b"d"]
                    self.deliver(
                        self._group_of[key], data.decode() if fields[b"t"] == _TEXT else data
                    )
        return behind
