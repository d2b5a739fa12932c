"""Group backends: the local fan-out every backend shares, and the transport each one adds.

A ``GroupBackend`` keeps, for this process, which open websockets are in which group. A message
is framed once; each member whose connection can take it now (nothing queued, the transport's
buffer below its high-water mark, no compression) gets the frame written straight to its
transport, with no task and no await. Any other member gets it in a bounded send queue drained
by a short-lived task of its own, so a publish never waits for a slow socket. Subclasses decide
how a published message reaches every process: the memory backend hands it straight to the
local fan-out, the Redis backend appends it to a stream that one reader task per process
follows. Control messages (``send_control``) travel the same way and reach the handlers
registered with ``on_control`` in every process.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import json
import logging
import struct
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar, Final, Literal

from aiohttp import web

from ..conf import conf
from ..interop import WS_REQUEST_KEY, close_bounded

__all__ = (
    "CLOSE_TRY_AGAIN_LATER",
    "ControlHandler",
    "GroupBackend",
    "GroupStats",
    "GroupsNotRunning",
    "SlowPolicy",
    "dispatch_control",
    "on_control",
)

CLOSE_TRY_AGAIN_LATER: Final = 1013  # a slow socket's send queue overflowed (policy "close")
SlowPolicy = Literal["close", "drop_oldest"]
ControlHandler = Callable[[dict[str, object]], Awaitable[None] | None]

logger: Final = logging.getLogger("aiodjango.groups")
_LOG_EVERY: Final = 10.0  # seconds between two warnings of one kind; counts are never skipped
_handlers: Final[dict[str, list[ControlHandler]]] = {}


class GroupsNotRunning(RuntimeError):
    """A publish found no running backend in this process to hand the message to."""


@dataclasses.dataclass(frozen=True)
class GroupStats:
    """Counters of one process's backend since it started (``groups.stats()``)."""

    published: int  #: messages this process published (async and sync)
    delivered: int  #: frames written to local sockets
    dropped: int  #: queued frames dropped by the ``drop_oldest`` policy
    closed_slow: int  #: sockets closed with 1013 by the ``close`` policy
    reconnects: int  #: times the backend reconnected to its broker
    gaps: int  #: resumes that found messages already trimmed (lost for this process)
    groups: int  #: groups with a member in this process now
    sockets: int  #: sockets in at least one group in this process now


def on_control(name: str) -> Callable[[ControlHandler], ControlHandler]:
    """Register a handler for control messages called ``name``, in every process.

    The handler gets the JSON payload given to ``send_control``; it runs on the event loop of
    the process's server, and may be a coroutine function. Returns the handler unchanged.
    """

    def register(handler: ControlHandler) -> ControlHandler:
        if handler not in _handlers.setdefault(name, []):
            _handlers[name].append(handler)
        return handler

    return register


def dispatch_control(name: str, payload: dict[str, object]) -> None:
    """Run the handlers of ``name`` (on the loop); an exception is logged, never raised."""
    for handler in list(_handlers.get(name, ())):
        try:
            result = handler(payload)
            if isinstance(result, Awaitable):
                _spawn(_logged(result, name))
        except Exception:
            logger.exception("Control handler %r failed for %r", handler, name)


async def _logged(awaitable: Awaitable[None], name: str) -> None:
    try:
        await awaitable
    except Exception:
        logger.exception("Control handler for %r failed", name)


_background: Final[set[asyncio.Task[Any]]] = set()


def _spawn(coro: Coroutine[Any, Any, Any] | Awaitable[Any]) -> None:
    task = asyncio.ensure_future(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


def encode_control(name: str, payload: dict[str, object]) -> str:
    """The wire form of a control message (JSON), validated before it leaves."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"A control message needs a non-empty name, got {name!r}.")
    return json.dumps({"name": name, "payload": payload})


def decode_control(raw: str | bytes) -> tuple[str, dict[str, object]]:
    message = json.loads(raw)
    return str(message["name"]), dict(message["payload"])


def check_group(group: str) -> str:
    if not isinstance(group, str) or not group:
        raise TypeError(f"A group name is a non-empty str, got {group!r}.")
    return group


def check_data(data: str | bytes) -> str | bytes:
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    if not isinstance(data, str | bytes):
        raise TypeError(
            f"publish() sends str (text frame) or bytes (binary frame), got {type(data)!r}; "
            "use publish_json() for other values."
        )
    return data


class _Outbox:
    """One socket's bounded send queue, drained by a task that exists only while it is busy.

    ``transport`` and ``protocol`` are set when frames built once for every member may be
    written to the connection directly: an aiodjango (or plain aiohttp) server socket without
    permessage-deflate. aiohttp writes each uncompressed frame with one ``transport.write``,
    so a frame written beside it never splits one of its own.
    """

    __slots__ = ("closing", "groups", "protocol", "queue", "task", "transport", "ws")

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: deque[str | bytes] = deque()
        self.groups: set[str] = set()
        self.task: asyncio.Task[None] | None = None
        self.closing = False
        self.transport: asyncio.Transport | None = None
        self.protocol: Any = None  # aiohttp's RequestHandler: its writing_paused flag
        request = ws.get(WS_REQUEST_KEY) or getattr(ws, "_req", None)  # hand-built apps
        transport = getattr(request, "transport", None)
        if not ws.compress and transport is not None:
            self.transport = transport
            self.protocol = request.protocol  # type: ignore[union-attr]


_PACK_SHORT: Final = struct.Struct("!BB").pack
_PACK_MEDIUM: Final = struct.Struct("!BBH").pack
_PACK_LONG: Final = struct.Struct("!BBQ").pack


def _server_frame(data: str | bytes) -> bytes:
    """``data`` as one unmasked, uncompressed RFC 6455 frame: text for str, binary for bytes."""
    if isinstance(data, str):
        payload, first = data.encode(), 0x81
    else:
        payload, first = data, 0x82
    size = len(payload)
    if size < 126:
        return _PACK_SHORT(first, size) + payload
    if size < 65536:
        return _PACK_MEDIUM(first, 126, size) + payload
    return _PACK_LONG(first, 127, size) + payload


class GroupBackend(abc.ABC):
    """Local membership and fan-out; subclasses carry messages between processes.

    Parameters:
        queue_size: frames a socket may have waiting; past it ``slow_policy`` applies.
        slow_policy: ``"close"`` closes the socket with 1013, ``"drop_oldest"`` drops the
            oldest waiting frame; either way it is counted and logged.
    """

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"QUEUE_SIZE", "SLOW_POLICY"})

    def __init__(self, *, queue_size: int = 1000, slow_policy: SlowPolicy = "close") -> None:
        self.queue_size: Final = queue_size
        self.slow_policy: Final = slow_policy
        self._groups: dict[str, set[_Outbox]] = {}
        self._outboxes: dict[web.WebSocketResponse, _Outbox] = {}
        self._closers: set[asyncio.Task[Any]] = set()
        self._counts = dict.fromkeys(
            ("published", "delivered", "dropped", "closed_slow", "reconnects", "gaps"), 0
        )
        self._last_log: dict[str, tuple[float, int]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._users = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "running" if self.loop is not None else "stopped"
        return f"<{type(self).__name__} {state}, {len(self._groups)} groups>"

    # Lifecycle: setup_groups() calls these from the application's startup and cleanup.
    async def start(self) -> None:
        """Start serving this process's loop (counted: each start needs one ``stop``)."""
        self._users += 1
        if self._users == 1:
            self.loop = asyncio.get_running_loop()
            await self._start()

    async def stop(self) -> None:
        """Stop when the last user stops: the transport first, then pending closes."""
        self._users -= 1
        if self._users > 0:
            return
        await self._stop()
        for box in list(self._outboxes.values()):
            if box.task is not None:
                box.task.cancel()
        await asyncio.gather(*self._closers, return_exceptions=True)
        self.loop = None

    async def _start(self) -> None:  # noqa: B027 - optional hook
        """Transport start-up (connect, start the reader)."""

    async def _stop(self) -> None:  # noqa: B027 - optional hook
        """Transport shutdown."""

    # Membership.
    async def add(self, group: str, ws: web.WebSocketResponse) -> None:
        """Put ``ws`` in ``group``; it gets every message published after this returns.

        Membership ends with ``discard``, or by itself when the task that called ``add`` (the
        websocket handler) finishes or a send finds the socket closed.
        """
        check_group(group)
        if self.loop is None:
            raise GroupsNotRunning(
                f"{self!r} is not started: setup_groups(app) starts it with the application."
            )
        box = self._outboxes.get(ws)
        if box is None:
            box = self._outboxes[ws] = _Outbox(ws)
            task = asyncio.current_task()
            if task is not None:
                task.add_done_callback(lambda _: self.forget(ws))
        if group in box.groups:
            return
        if group not in self._groups:
            await self._subscribe(group)
        box.groups.add(group)
        self._groups.setdefault(group, set()).add(box)
        await self._presence(group, len(self._groups[group]))

    async def discard(self, group: str, ws: web.WebSocketResponse) -> None:
        """Take ``ws`` out of ``group`` (nothing happens if it is not in it)."""
        if self._leave(group, ws):
            await self._presence(group, len(self._groups.get(group, ())))

    def forget(self, ws: web.WebSocketResponse) -> None:
        """Take ``ws`` out of every group now (it closed); presence catches up in the background."""
        box = self._outboxes.get(ws)
        if box is None:
            return
        for group in list(box.groups):
            if self._leave(group, ws) and self.loop is not None:
                self._spawn_closer(self._presence(group, len(self._groups.get(group, ()))))

    def _leave(self, group: str, ws: web.WebSocketResponse) -> bool:
        box = self._outboxes.get(ws)
        if box is None or group not in box.groups:
            return False
        box.groups.discard(group)
        members = self._groups[group]
        members.discard(box)
        if not members:
            del self._groups[group]
            self._unsubscribe(group)
        if not box.groups:
            del self._outboxes[ws]  # a drain under way still sends what was queued
        return True

    def local_groups(self, ws: web.WebSocketResponse) -> frozenset[str]:
        """The groups ``ws`` is in."""
        box = self._outboxes.get(ws)
        return frozenset(box.groups) if box is not None else frozenset()

    async def members(self, group: str) -> int:
        """How many sockets are in ``group``, in every process the backend reaches."""
        return len(self._groups.get(check_group(group), ()))

    async def _subscribe(self, group: str) -> None:  # noqa: B027 - optional hook
        """The first local member joins ``group``: start receiving it."""

    def _unsubscribe(self, group: str) -> None:  # noqa: B027 - optional hook
        """The last local member left ``group``."""

    async def _presence(self, group: str, local: int) -> None:  # noqa: B027 - optional hook
        """This process now has ``local`` members in ``group``."""

    # Publishing: subclasses carry (group, data) to every process, which calls deliver().
    async def publish(self, group: str, data: str | bytes) -> None:
        """Send ``data`` to every member of ``group``: str as a text frame, bytes as binary."""
        await self._publish(check_group(group), check_data(data))
        self._published()

    async def publish_json(self, group: str, obj: object) -> None:
        """Send ``json.dumps(obj)`` as a text frame to every member of ``group``."""
        await self.publish(group, json.dumps(obj))

    def publish_sync(self, group: str, data: str | bytes) -> None:
        """``publish`` for sync code in any thread (Django views, commands, Celery tasks)."""
        self._publish_sync(check_group(group), check_data(data))
        self._published()

    def publish_json_sync(self, group: str, obj: object) -> None:
        """``publish_json`` for sync code in any thread."""
        self.publish_sync(group, json.dumps(obj))

    async def send_control(self, name: str, payload: dict[str, object]) -> None:
        """Run the ``on_control(name)`` handlers with ``payload`` in every process."""
        await self._send_control(encode_control(name, payload))

    def send_control_sync(self, name: str, payload: dict[str, object]) -> None:
        """``send_control`` for sync code in any thread."""
        self._send_control_sync(encode_control(name, payload))

    @abc.abstractmethod
    async def _publish(self, group: str, data: str | bytes) -> None: ...

    @abc.abstractmethod
    def _publish_sync(self, group: str, data: str | bytes) -> None: ...

    @abc.abstractmethod
    async def _send_control(self, raw: str) -> None: ...

    @abc.abstractmethod
    def _send_control_sync(self, raw: str) -> None: ...

    def _published(self) -> None:
        with self._lock:  # publish_sync counts from other threads
            self._counts["published"] += 1

    def deliver(self, group: str, data: str | bytes) -> None:
        """Send ``data`` to every local member of ``group`` (on the loop; never waits).

        The frame is built once; a member that can take it now gets it written to its
        transport, any other (a queue to keep in order, a full buffer, compression) is queued.
        """
        members = self._groups.get(group)
        if not members:
            return
        frame = _server_frame(data)
        written = 0
        for box in list(members):  # _put() may close a slow member, which leaves the group
            transport = box.transport
            if (
                transport is not None
                and box.task is None
                and not box.queue
                and not box.closing
                and not box.protocol.writing_paused
                and not box.ws.closed
                and not transport.is_closing()
            ):
                transport.write(frame)
                written += 1
            else:
                self._put(box, data)
        self._counts["delivered"] += written

    def _put(self, box: _Outbox, data: str | bytes) -> None:
        if box.closing:
            return
        if len(box.queue) >= self.queue_size:
            if self.slow_policy == "close":
                self._close_slow(box)
                return
            box.queue.popleft()
            self._count("dropped", "Dropped the oldest queued frame of a slow websocket")
        box.queue.append(data)
        if box.task is None:
            assert self.loop is not None
            box.task = self.loop.create_task(self._drain(box))

    async def _drain(self, box: _Outbox) -> None:
        ws = box.ws
        try:
            while box.queue:
                data = box.queue.popleft()
                if isinstance(data, str):
                    await ws.send_str(data)
                else:
                    await ws.send_bytes(data)
                self._counts["delivered"] += 1
        except (ConnectionError, RuntimeError):  # closed under us, or closing
            box.queue.clear()
        finally:
            box.task = None
            if ws.closed:
                self.forget(ws)

    def _close_slow(self, box: _Outbox) -> None:
        box.closing = True
        box.queue.clear()
        if box.task is not None:
            box.task.cancel()
        self.forget(box.ws)
        self._count("closed_slow", "Closed a slow websocket with 1013 (its send queue was full)")
        # Bounded: the peer stopped reading, so the close frame may never flush; past
        # AIODJANGO_WS_CLOSE_TIMEOUT the connection is aborted.
        self._spawn_closer(
            close_bounded(box.ws, CLOSE_TRY_AGAIN_LATER, b"Send queue full", conf.WS_CLOSE_TIMEOUT)
        )

    def _spawn_closer(self, coro: Coroutine[Any, Any, Any]) -> None:
        assert self.loop is not None
        task = self.loop.create_task(coro)
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    def _count(self, name: str, message: str) -> None:
        """Count one event and warn, at most once per ``_LOG_EVERY`` seconds per kind."""
        self._counts[name] += 1
        now = time.monotonic()
        last, unlogged = self._last_log.get(name, (0.0, 0))
        if now - last >= _LOG_EVERY:
            logger.warning(
                "%s (%d since the last warning, %d in all).",
                message,
                unlogged + 1,
                self._counts[name],
            )
            self._last_log[name] = (now, 0)
        else:
            self._last_log[name] = (last, unlogged + 1)

    def stats(self) -> GroupStats:
        """A snapshot of this process's counters."""
        return GroupStats(**self._counts, groups=len(self._groups), sockets=len(self._outboxes))
