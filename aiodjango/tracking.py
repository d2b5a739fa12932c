"""The open websockets of an application, and a logout closing the user's in every worker.

Each application keeps its open sockets in a ``WebSocketTracker`` (``app[WEBSOCKETS_KEY]``,
given by ``track_websockets()``, whose ``on_shutdown`` closes all of them with 1001). Django's
``user_logged_out`` (``on_user_logged_out``) calls ``close_user_websockets()``, which closes that
user's sockets with 4001 in this process (the tracker reads the user ``get_user()`` stored on
each request, lazily, at logout) and tells the other workers through the groups backend's
``aiodjango.close_user`` control message (``on_close_user``). Nothing is done per message. It
logs on ``aiodjango.websocket``, as the rest of the websocket code does.
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
from typing import Any, Final

from aiohttp import web

from . import groups
from .auth import cached_user
from .conf import conf
from .interop import CLOSE_GOING_AWAY, CLOSE_LOGGED_OUT, close_bounded

__all__ = (
    "CLOSE_USER_CONTROL",
    "WEBSOCKETS_KEY",
    "WebSocketTracker",
    "close_user_websockets",
    "on_close_user",
    "on_user_logged_out",
    "track_websockets",
)

logger: Final = logging.getLogger("aiodjango.websocket")


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
