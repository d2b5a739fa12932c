"""Websocket views: the handshake checks, the handler call, the bounded close, the open sockets.

A ``@async_view(..., websocket=True)`` handler is ``async def handler(request, ws)``. Before the
upgrade the request must be a GET (else 405) asking for a websocket (else 426) of version 13
(else 426 naming it), from an allowed ``Origin`` (else 403, logged on ``aiodjango.websocket``)
and, under ``@login_required``, from a logged-in user (else 403). The handler gets the prepared
``ws``; when it returns the socket is closed with 1000, when it raises with 1011 and the
traceback is logged on ``django.request``. A client that leaves is an ordinary end (debug log).

Once open, each connection is guarded (``_PeerGuard``, between the transport and aiohttp):
an unmasked client frame closes it with 1002, and a peer that leaves the send buffer full for
``AIODJANGO_WS_SEND_TIMEOUT`` seconds (it stopped reading) is dropped with a logged warning, so
a handler writing to it is released and memory stays bounded. Every close the framework makes
takes at most ``AIODJANGO_WS_CLOSE_TIMEOUT`` seconds, then the connection is aborted.

Each application keeps its open sockets in a ``WebSocketTracker`` (``app[WEBSOCKETS_KEY]``).
Django's ``user_logged_out`` closes that user's sockets with 4001 in every worker (the tracker
reads the user ``get_user()`` stored on each request, lazily, at logout; the other workers hear
of it through the groups backend's control channel), and the application's
``on_shutdown`` closes all of them with 1001. Nothing is done per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import threading
import weakref
from collections.abc import Coroutine
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from aiohttp import web
from django.conf import settings
from django.http import HttpRequest
from django.http.request import split_domain_port, validate_host
from django.urls import reverse
from django.utils.http import is_same_domain

from . import groups
from .auth import cached_user, get_user, login_requirement
from .conf import conf
from .database import DatabaseLease
from .interop import (
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL_ERROR,
    CLOSE_LOGGED_OUT,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_NORMAL,
    CLOSE_POLICY_VIOLATION,
    CLOSE_PROTOCOL_ERROR,
    WS_REQUEST_KEY,
    allowed_host,
    allowed_hosts,
    close_bounded,
    django_request,
)
from .registry import AsyncViewDef

__all__ = (
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_LOGGED_OUT",
    "CLOSE_MESSAGE_TOO_BIG",
    "CLOSE_NORMAL",
    "CLOSE_POLICY_VIOLATION",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_USER_CONTROL",
    "WEBSOCKETS_KEY",
    "WebSocketTracker",
    "close_bounded",
    "close_user_websockets",
    "on_close_user",
    "on_user_logged_out",
    "origin_refusal",
    "reverse_ws",
    "serve_websocket",
    "track_websockets",
)

logger: Final = logging.getLogger("aiodjango.websocket")
request_logger: Final = logging.getLogger("django.request")


def origin_refusal(request: web.BaseRequest) -> str | None:
    """Why the handshake's ``Origin`` is refused, or None when it may connect.

    Allowed: no ``Origin`` at all (browsers always send one, so the client is not a browser
    and cannot be hijacked), the request's own host, an ``ALLOWED_HOSTS`` entry other than
    ``"*"``, a ``CSRF_TRUSTED_ORIGINS`` or ``AIODJANGO_WS_ALLOWED_ORIGINS`` entry.
    """
    origin = request.headers.get("Origin")
    extra = conf.WS_ALLOWED_ORIGINS
    if origin is None or "*" in extra:
        return None
    parsed = urlsplit(origin)
    try:
        parsed.port  # noqa: B018 - validates the port
    except ValueError:
        return "is malformed"
    netloc = parsed.netloc.lower()
    if parsed.scheme not in ("http", "https") or not netloc:
        return "is opaque or malformed"
    own = allowed_host(request)
    if own is not None and netloc == own.lower():
        return None
    domain, _ = split_domain_port(netloc)
    if domain and validate_host(domain, [host for host in allowed_hosts() if host != "*"]):
        return None
    for trusted in (*settings.CSRF_TRUSTED_ORIGINS, *extra):
        if "*" in trusted:
            scheme, _, pattern = trusted.partition("://")
            if scheme == parsed.scheme and is_same_domain(netloc, pattern.lstrip("*")):
                return None
        elif origin == trusted:
            return None
    return (
        "is neither this host nor in ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS or "
        "AIODJANGO_WS_ALLOWED_ORIGINS"
    )


def _refuse(request: web.Request, reason: str) -> web.HTTPForbidden:
    logger.warning(
        "Websocket handshake refused (403) for %s: %s",
        request.path,
        reason,
        extra={"status_code": 403, "origin": request.headers.get("Origin")},
    )
    return web.HTTPForbidden(text=f"Forbidden (403): {reason}.")


def _check_handshake(request: web.Request) -> None:
    if request.method != "GET":
        raise web.HTTPMethodNotAllowed(
            request.method, ["GET"], text="Websocket endpoints only accept GET handshakes."
        )
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise web.HTTPUpgradeRequired(
            headers={"Upgrade": "websocket"},
            text="426 Upgrade Required: this URL is a websocket endpoint.",
        )
    version = request.headers.get("Sec-WebSocket-Version", "")
    if version != "13":  # RFC 6455 §4.4; aiohttp would also accept the drafts 7 and 8
        raise web.HTTPUpgradeRequired(
            headers={"Upgrade": "websocket", "Sec-WebSocket-Version": "13"},
            text=f"426 Upgrade Required: websocket version {version!r} is not 13.",
        )


async def serve_websocket(view_def: AsyncViewDef, request: web.Request) -> web.StreamResponse:
    """Check the handshake, upgrade, run the handler with the prepared ``ws``, close it after."""
    _check_handshake(request)
    reason = origin_refusal(request)
    if reason is not None:
        raise _refuse(request, f"Origin {request.headers['Origin']!r} {reason}")
    required = login_requirement(view_def.handler) is not None
    if required and not (await get_user(request)).is_authenticated:
        raise _refuse(request, "login required")

    limit = conf.WS_MAX_MESSAGE_SIZE
    close_timeout = conf.WS_CLOSE_TIMEOUT
    # aiohttp refuses a plain frame of max_msg_size bytes but a deflated message only above
    # it: with deflate on offer the limit itself keeps every message at most `limit` bytes.
    deflate = "permessage-deflate" in request.headers.get("Sec-WebSocket-Extensions", "").lower()
    ws = web.WebSocketResponse(
        protocols=view_def.protocols,
        heartbeat=None,  # aiohttp's resets a timer per message; _Pulse costs nothing per message
        max_msg_size=limit + (0 if deflate or not limit else 1),
        timeout=close_timeout,
    )
    await ws.prepare(request)  # a bad Sec-WebSocket-Key is a 400 here
    ws[WS_REQUEST_KEY] = request  # close_bounded() aborts its transport if a close stalls
    _PeerGuard.install(request, ws, conf.WS_SEND_TIMEOUT, close_timeout, conf.WS_HEARTBEAT)
    tracker = request.app.get(WEBSOCKETS_KEY)
    if tracker is not None:
        tracker.add(ws, request)
    try:
        async with DatabaseLease(release_when_idle=True):  # no thread while idle
            await view_def.handler(request, ws)
    except Exception as exc:
        if isinstance(exc, ConnectionError) and (ws.closed or _gone(request)):
            logger.debug("Websocket %s: the client went away (%r)", request.path, exc)
        else:
            request_logger.error(
                "Websocket handler error: %s",
                request.path,
                exc_info=True,
                extra={"status_code": CLOSE_INTERNAL_ERROR, "request": django_request(request)},
            )
            await close_bounded(ws, CLOSE_INTERNAL_ERROR, b"Internal error", close_timeout)
    finally:
        if tracker is not None:
            tracker.discard(ws)
        await close_bounded(ws, CLOSE_NORMAL, b"", close_timeout)
    return ws


def _gone(request: web.BaseRequest) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _ignore(data: bytes) -> None:
    """What a refused connection's bytes are forwarded to."""


class _PeerGuard(asyncio.Protocol):
    """Sits between an open websocket's transport and aiohttp's protocol, forwarding all.

    It refuses unmasked client frames (RFC 6455 §5.1; aiohttp's reader accepts them) with
    1002 by tracking frame boundaries, and drops a peer whose send buffer stays above the
    high-water mark for ``send_timeout`` seconds: the transport pauses the writer then, and
    only a reading peer resumes it, so one timer per pause bounds the stall. It notes that
    bytes arrived (``seen``) for the heartbeat (``_Pulse``), so receiving costs no timer.
    """

    __slots__ = (
        "_close_timeout",
        "_forward",
        "_head",
        "_inner",
        "_path",
        "_pulse",
        "_send_timeout",
        "_skip",
        "_stall",
        "_transport",
        "pinged",
        "quiet",
        "seen",
        "ws",
    )

    def __init__(
        self,
        inner: asyncio.Protocol,
        transport: asyncio.Transport,
        ws: web.WebSocketResponse,
        path: str,
        send_timeout: float | None,
        close_timeout: float,
    ) -> None:
        self._inner = inner
        self._forward = inner.data_received  # bound once: one call per read
        self._transport = transport
        self.ws = ws
        self._path = path
        self._send_timeout = send_timeout
        self._close_timeout = close_timeout
        self._stall: asyncio.TimerHandle | None = None
        self._skip = 0  # payload bytes of the current frame still to come
        self._head = b""  # the start of a frame header split across reads
        self._pulse: _Pulse | None = None
        self.seen = True  # bytes arrived since the heartbeat last looked
        self.quiet = 0  # heartbeat ticks in a row that found nothing arrived
        self.pinged = False  # a heartbeat ping is unanswered

    @classmethod
    def install(
        cls,
        request: web.Request,
        ws: web.WebSocketResponse,
        send_timeout: float | None,
        close: float,
        heartbeat: float | None,
    ) -> None:
        """Put a guard in front of ``request``'s (upgraded) connection."""
        transport = request.transport
        if transport is None:
            return
        inner = transport.get_protocol()
        assert isinstance(inner, asyncio.Protocol)
        guard = cls(inner, transport, ws, request.path, send_timeout, close)
        transport.set_protocol(guard)
        if request.protocol.writing_paused:
            guard.pause_writing(forward=False)
        if heartbeat is not None:
            guard._pulse = _Pulse.join(guard, heartbeat)

    # -- the transport's calls, forwarded ------------------------------------------------
    def data_received(self, data: bytes) -> None:
        self.seen = True
        size = len(data)
        skip = self._skip
        if skip >= size and not self._head:  # the middle of a payload: the fast path
            self._skip = skip - size
            self._forward(data)
            return
        seen = data  # what the guard parses; aiohttp gets each byte once, as it came
        if self._head:
            seen, size = self._head + data, size + len(self._head)
            self._head = b""
        pos = skip
        while pos < size:  # every frame header starting here: is its mask bit set?
            if size - pos < 2:
                self._head = seen[pos:]
                break
            second = seen[pos + 1]
            if not second & 0x80:
                self._refuse_unmasked()
                return
            length = second & 0x7F
            if length < 126:
                pos += 6 + length
                continue
            extended = 2 if length == 126 else 8
            if size - pos < 2 + extended:
                self._head = seen[pos:]
                break
            length = int.from_bytes(seen[pos + 2 : pos + 2 + extended], "big")
            pos += 6 + extended + length
        self._skip = pos - size if pos > size else 0
        self._forward(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        if self._pulse is not None:
            self._pulse.leave(self)
            self._pulse = None
        self._inner.connection_lost(exc)

    def pause_writing(self, forward: bool = True) -> None:
        if forward:
            self._inner.pause_writing()
        if self._send_timeout is not None and self._stall is None:
            loop = asyncio.get_running_loop()
            self._stall = loop.call_later(self._send_timeout, self._drop_stalled)

    def resume_writing(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        self._inner.resume_writing()

    # -- the guard's own work ------------------------------------------------------------
    def _refuse_unmasked(self) -> None:
        if self._forward is _ignore:
            return
        self._forward = _ignore
        self._skip, self._head = 1 << 62, b""  # what follows is not parsed
        logger.warning(
            "Websocket %s: unmasked client frame, closed with %d (RFC 6455 5.1)",
            self._path,
            CLOSE_PROTOCOL_ERROR,
        )
        reason = b"Unmasked frame"
        payload = CLOSE_PROTOCOL_ERROR.to_bytes(2, "big") + reason
        self._transport.write(bytes((0x88, len(payload))) + payload)
        self._transport.close()
        asyncio.get_running_loop().call_later(self._close_timeout, self._transport.abort)

    def _drop_stalled(self) -> None:
        self._stall = None
        logger.warning(
            "Websocket %s dropped: the peer read nothing for %.1f s with %d bytes waiting "
            "(AIODJANGO_WS_SEND_TIMEOUT)",
            self._path,
            self._send_timeout,
            self._transport.get_write_buffer_size(),
        )
        self._transport.abort()

    def ping(self) -> bool:
        """Send a heartbeat ping; False when the socket is closing (nothing to keep alive)."""
        if self.ws.closed or self._transport.is_closing():
            return False
        self._transport.write(_PING)  # one write, as aiohttp writes each frame
        return True

    def drop_silent(self, interval: float) -> None:
        """The peer answered no ping: close the connection without a close frame (1006)."""
        logger.debug(
            "Websocket %s dropped: no answer to a ping within %.1f s (AIODJANGO_WS_HEARTBEAT)",
            self._path,
            interval / 2,
        )
        # aiohttp's own heartbeat's ending: close code 1006 and a waiting receive() woken with
        # the error, before the handler may be cancelled; then no flush to a vanished peer.
        fail = getattr(self.ws, "_handle_ping_pong_exception", None)
        if fail is not None:
            fail(TimeoutError(f"No PONG received after {interval / 2} seconds"))
        self._transport.abort()


_PING: Final = b"\x89\x00"  # an empty, unmasked ping frame


class _Pulse:
    """The heartbeat of every guarded socket of one loop with one interval: one timer in all.

    Every half interval it looks at each socket: one that received anything since the last
    look is fine; one silent for two looks in a row (at least one interval) gets a ping; one
    that has still received nothing at the next look (half an interval later) is dropped. So
    a vanished peer is dropped within two intervals of its last byte, and receiving a message
    costs one attribute store instead of a timer reset.
    """

    _running: ClassVar[dict[tuple[asyncio.AbstractEventLoop, float], _Pulse]] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.interval = interval
        self.guards: set[_PeerGuard] = set()
        self._timer = loop.call_later(interval / 2, self._tick)

    @classmethod
    def join(cls, guard: _PeerGuard, interval: float) -> _Pulse:
        """The pulse of this loop and ``interval``, with ``guard`` in it."""
        loop = asyncio.get_running_loop()
        pulse = cls._running.get((loop, interval))
        if pulse is None:
            pulse = cls._running[loop, interval] = cls(loop, interval)
        pulse.guards.add(guard)
        return pulse

    def leave(self, guard: _PeerGuard) -> None:
        """Stop watching ``guard``; the last one out stops the timer."""
        self.guards.discard(guard)
        if not self.guards:
            self._timer.cancel()
            if self._running.get((self.loop, self.interval)) is self:
                del self._running[self.loop, self.interval]

    def _tick(self) -> None:
        for guard in list(self.guards):
            if guard.seen:
                guard.seen, guard.quiet, guard.pinged = False, 0, False
            elif guard.pinged:
                guard.drop_silent(self.interval)
                self.guards.discard(guard)
            else:
                guard.quiet += 1
                if guard.quiet >= 2:
                    guard.pinged = guard.ping()
        if self.guards:
            self._timer = self.loop.call_later(self.interval / 2, self._tick)
        elif self._running.get((self.loop, self.interval)) is self:
            del self._running[self.loop, self.interval]


class WebSocketTracker:
    """The open websockets of one application, indexed by user so logout is a dict lookup.

    A socket joins its user's set the first time a logout (or ``user_sockets()``) looks after
    its handler's ``get_user()`` has loaded the user; auth knows nothing about the tracker.
    """

    def __init__(self) -> None:
        self.sockets: Final[set[web.WebSocketResponse]] = set()
        self._requests: dict[web.WebSocketResponse, web.Request] = {}
        self._unbound: set[web.WebSocketResponse] = set()
        self._by_user: dict[str, set[web.WebSocketResponse]] = {}
        self._user_of: dict[web.WebSocketResponse, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<WebSocketTracker {len(self.sockets)} open, {len(self._by_user)} users>"

    def add(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        """Track ``ws``, opened by ``request``."""
        self._loop = asyncio.get_running_loop()
        self.sockets.add(ws)
        self._requests[ws] = request
        self._unbound.add(ws)

    def _bind_known_users(self) -> None:
        for ws in list(self._unbound):
            user = cached_user(self._requests[ws])
            if user is None:  # get_user() not called (yet) by this socket's handler
                continue
            self._unbound.discard(ws)
            key = _user_key(user)
            if key is not None:
                self._by_user.setdefault(key, set()).add(ws)
                self._user_of[ws] = key

    def discard(self, ws: web.WebSocketResponse) -> None:
        """Forget ``ws`` (its handler has finished)."""
        self.sockets.discard(ws)
        self._requests.pop(ws, None)
        self._unbound.discard(ws)
        key = self._user_of.pop(ws, None)
        if key is not None:
            user_sockets = self._by_user[key]
            user_sockets.discard(ws)
            if not user_sockets:
                del self._by_user[key]

    def user_sockets(self, user: object) -> frozenset[web.WebSocketResponse]:
        """The open sockets whose handler loaded ``user`` through ``get_user()``."""
        self._bind_known_users()
        key = _user_key(user)
        return frozenset(self._by_user.get(key, ())) if key is not None else frozenset()

    def close_user_threadsafe(self, key: str, code: int, message: bytes) -> None:
        """Close a user's sockets from any thread (e.g. a Django view's)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in between
            loop.call_soon_threadsafe(self._close_user, key, code, message)

    def _close_user(self, key: str, code: int, message: bytes) -> None:
        self._bind_known_users()
        for ws in list(self._by_user.get(key, ())):
            self._spawn(close_bounded(ws, code, message, conf.WS_CLOSE_TIMEOUT))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close_all(self, code: int = CLOSE_GOING_AWAY, message: bytes = b"") -> None:
        """Close every open socket with ``code``; each close is bounded (then aborted)."""
        timeout = conf.WS_CLOSE_TIMEOUT
        closing = [close_bounded(ws, code, message, timeout) for ws in self.sockets]
        await asyncio.gather(*closing, *list(self._tasks), return_exceptions=True)


WEBSOCKETS_KEY: Final = web.AppKey("aiodjango_websockets", WebSocketTracker)
_trackers: Final[weakref.WeakSet[WebSocketTracker]] = weakref.WeakSet()
_trackers_lock: Final = threading.Lock()  # logout runs on Django's threads


def _user_key(user: object) -> str | None:
    if not getattr(user, "is_authenticated", False):
        return None
    pk = getattr(user, "pk", None)
    return None if pk is None else str(pk)


def track_websockets(app: web.Application) -> WebSocketTracker:
    """Give ``app`` its tracker, closing every socket with 1001 in ``on_shutdown``."""
    tracker = WebSocketTracker()
    app[WEBSOCKETS_KEY] = tracker
    app.on_shutdown.append(_close_on_shutdown)
    with _trackers_lock:
        _trackers.add(tracker)
    return tracker


async def _close_on_shutdown(app: web.Application) -> None:
    await app[WEBSOCKETS_KEY].close_all(CLOSE_GOING_AWAY, b"Server shutdown")


def close_user_websockets(
    user: object, *, code: int = CLOSE_LOGGED_OUT, message: str = "Logged out"
) -> None:
    """Close ``user``'s open websockets in every application of every worker; from any thread.

    ``user_logged_out`` calls it; call it yourself when a user is deactivated or changes
    password, also from a management command or a Celery task. This process's sockets close
    at once; the other workers' get the ``aiodjango.close_user`` control message through the
    groups backend (``AIODJANGO_GROUPS``: Redis reaches every worker, memory this process
    only). A backend that cannot send (Redis down) is logged and the logout goes on.
    """
    key = _user_key(user)
    if key is None:
        return
    _close_user_here(key, code, message.encode())
    payload: dict[str, object] = {
        "user": key,
        "code": code,
        "message": message,
        "origin": _origin(),
    }
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        _send_close_user(payload)
    else:  # on an event loop: the sync client's XADD goes to a thread, never blocking the loop
        task = loop.create_task(asyncio.to_thread(_send_close_user, payload))
        _sending.add(task)
        task.add_done_callback(_sending.discard)


CLOSE_USER_CONTROL: Final = "aiodjango.close_user"
_ORIGIN_TOKEN: Final = secrets.token_hex(6)
_sending: Final[set[asyncio.Task[None]]] = set()


def _origin() -> str:
    # With the pid, so that each forked gunicorn worker is its own origin.
    return f"{_ORIGIN_TOKEN}:{os.getpid()}"


def _close_user_here(key: str, code: int, message: bytes) -> None:
    with _trackers_lock:
        trackers = list(_trackers)
    for tracker in trackers:
        tracker.close_user_threadsafe(key, code, message)


def _send_close_user(payload: dict[str, object]) -> None:
    try:
        groups.send_control_sync(CLOSE_USER_CONTROL, payload)
    except Exception:
        logger.exception(
            "Could not tell the other workers to close user %s's websockets (AIODJANGO_GROUPS "
            "backend failed); closed them in this process only",
            payload["user"],
        )


def on_close_user(payload: dict[str, object]) -> None:
    """The ``aiodjango.close_user`` control handler (registered in ``AiodjangoConfig.ready()``).

    Closes the user's sockets in this process, unless this process sent the message: it
    closed its own already.
    """
    if payload.get("origin") == _origin():
        return
    code, message = payload.get("code"), payload.get("message")
    if not (isinstance(code, int) and isinstance(message, str)):
        logger.warning("Ignored a malformed %s control message: %r", CLOSE_USER_CONTROL, payload)
        return
    _close_user_here(str(payload["user"]), code, message.encode())


def on_user_logged_out(sender: object, user: object = None, **kwargs: object) -> None:
    """``user_logged_out`` receiver (connected in ``AiodjangoConfig.ready()``)."""
    close_user_websockets(user)


def reverse_ws(
    request: web.BaseRequest | HttpRequest,
    viewname: str,
    args: tuple[Any, ...] | list[Any] | None = None,
    kwargs: dict[str, Any] | None = None,
) -> str:
    """The absolute ``ws://`` or ``wss://`` URL of a websocket view, as seen by ``request``.

    ``reverse()`` builds the path; the scheme follows Django's ``is_secure()`` (so
    ``SECURE_PROXY_SSL_HEADER`` counts) and the host is ``get_host()``. Works with a Django
    request and with an aiohttp one.
    """
    django = request if isinstance(request, HttpRequest) else django_request(request)
    url = django.build_absolute_uri(reverse(viewname, args=args, kwargs=kwargs))
    return "ws" + url.removeprefix("http")
