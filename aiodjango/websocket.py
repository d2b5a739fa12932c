"""Websocket views: the handshake checks, the handler call, the close, and the open sockets.

A ``@async_view(..., websocket=True)`` handler is ``async def handler(request, ws)``. Before the
upgrade the request must be a GET (else 405) asking for a websocket (else 426), from an allowed
``Origin`` (else 403, logged on ``aiodjango.websocket``) and, under ``@login_required``, from a
logged-in user (else 403). The handler gets the prepared ``ws``; when it returns the socket is
closed with 1000, when it raises with 1011 and the traceback is logged on ``django.request``.

Each application keeps its open sockets in a ``WebSocketTracker`` (``app[WEBSOCKETS_KEY]``),
indexed by user once ``get_user()`` has loaded one: Django's ``user_logged_out`` closes that
user's sockets with 4001 and the application's ``on_shutdown`` closes all of them with 1001.
Nothing is done per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from aiohttp import web
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.http import HttpRequest
from django.http.request import split_domain_port, validate_host
from django.urls import reverse
from django.utils.http import is_same_domain

from .auth import ON_USER_KEY, cached_user, get_user, login_requirement
from .conf import conf
from .dispatch import allowed_host
from .registry import AsyncViewDef
from .wsgi import django_request

if TYPE_CHECKING:
    from .auth import User

__all__ = (
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_LOGGED_OUT",
    "CLOSE_MESSAGE_TOO_BIG",
    "CLOSE_NORMAL",
    "CLOSE_POLICY_VIOLATION",
    "WEBSOCKETS_KEY",
    "WebSocketTracker",
    "close_user_websockets",
    "origin_refusal",
    "reverse_ws",
    "serve_websocket",
    "track_websockets",
)

CLOSE_NORMAL: Final = 1000  # the handler returned
CLOSE_GOING_AWAY: Final = 1001  # the application is shutting down
CLOSE_POLICY_VIOLATION: Final = 1008  # login_required handler called directly, anonymously
CLOSE_MESSAGE_TOO_BIG: Final = 1009  # a message above AIODJANGO_WS_MAX_MESSAGE_SIZE
CLOSE_INTERNAL_ERROR: Final = 1011  # the handler raised
CLOSE_LOGGED_OUT: Final = 4001  # the socket's user logged out

logger: Final = logging.getLogger("aiodjango.websocket")
request_logger: Final = logging.getLogger("django.request")
_DEBUG_HOSTS: Final = (".localhost", "127.0.0.1", "[::1]")


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
    hosts = [host for host in settings.ALLOWED_HOSTS if host != "*"]
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        hosts = list(_DEBUG_HOSTS)
    domain, _ = split_domain_port(netloc)
    if domain and validate_host(domain, hosts):
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


async def serve_websocket(view_def: AsyncViewDef, request: web.Request) -> web.StreamResponse:
    """Check the handshake, upgrade, run the handler with the prepared ``ws``, close it after."""
    if request.method != "GET":
        raise web.HTTPMethodNotAllowed(
            request.method, ["GET"], text="Websocket endpoints only accept GET handshakes."
        )
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise web.HTTPUpgradeRequired(
            headers={"Upgrade": "websocket"},
            text="426 Upgrade Required: this URL is a websocket endpoint.",
        )
    reason = origin_refusal(request)
    if reason is not None:
        raise _refuse(request, f"Origin {request.headers['Origin']!r} {reason}")
    required = login_requirement(view_def.handler) is not None
    if required and not (await get_user(request)).is_authenticated:
        raise _refuse(request, "login required")

    limit = conf.WS_MAX_MESSAGE_SIZE
    ws = web.WebSocketResponse(
        protocols=view_def.protocols,
        heartbeat=conf.WS_HEARTBEAT,
        max_msg_size=limit + 1 if limit else 0,  # aiohttp refuses sizes >= max_msg_size
    )
    await ws.prepare(request)  # a bad Sec-WebSocket-Key or version is a 400 here
    tracker = request.app.get(WEBSOCKETS_KEY)
    if tracker is not None:
        tracker.add(ws, request)
    try:
        await view_def.handler(request, ws)
    except Exception as exc:
        if ws.closed and isinstance(exc, ConnectionResetError):
            logger.debug("Websocket %s written to after it closed: %r", request.path, exc)
        else:
            request_logger.error(
                "Websocket handler error: %s",
                request.path,
                exc_info=True,
                extra={"status_code": CLOSE_INTERNAL_ERROR, "request": django_request(request)},
            )
            await ws.close(code=CLOSE_INTERNAL_ERROR, message=b"Internal error")
    finally:
        if tracker is not None:
            tracker.discard(ws)
        await ws.close()
    return ws


class WebSocketTracker:
    """The open websockets of one application, indexed by user so logout is a dict lookup."""

    def __init__(self) -> None:
        self.sockets: Final[set[web.WebSocketResponse]] = set()
        self._by_user: dict[str, set[web.WebSocketResponse]] = {}
        self._user_of: dict[web.WebSocketResponse, str] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"<WebSocketTracker {len(self.sockets)} open, {len(self._by_user)} users>"

    def add(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        """Track ``ws``; it joins its user's set as soon as ``get_user(request)`` knows them."""
        self._loop = asyncio.get_running_loop()
        self.sockets.add(ws)
        request[ON_USER_KEY] = lambda user: self._bind(ws, user)
        user = cached_user(request)
        if user is not None:
            self._bind(ws, user)

    def _bind(self, ws: web.WebSocketResponse, user: User) -> None:
        key = _user_key(user)
        if key is not None and ws in self.sockets:
            self._by_user.setdefault(key, set()).add(ws)
            self._user_of[ws] = key

    def discard(self, ws: web.WebSocketResponse) -> None:
        """Forget ``ws`` (its handler has finished)."""
        self.sockets.discard(ws)
        key = self._user_of.pop(ws, None)
        if key is not None:
            user_sockets = self._by_user[key]
            user_sockets.discard(ws)
            if not user_sockets:
                del self._by_user[key]

    def user_sockets(self, user: object) -> frozenset[web.WebSocketResponse]:
        """The open sockets whose handler loaded ``user`` through ``get_user()``."""
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
        for ws in list(self._by_user.get(key, ())):
            self._spawn(ws.close(code=code, message=message))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close_all(self, code: int = CLOSE_GOING_AWAY, message: bytes = b"") -> None:
        """Close every open socket with ``code`` and wait for the closing handshakes."""
        closing = [ws.close(code=code, message=message) for ws in list(self.sockets)]
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
    user_logged_out.connect(_on_logged_out, dispatch_uid="aiodjango.websocket.logout")
    return tracker


async def _close_on_shutdown(app: web.Application) -> None:
    await app[WEBSOCKETS_KEY].close_all(CLOSE_GOING_AWAY, b"Server shutdown")


def close_user_websockets(
    user: object, *, code: int = CLOSE_LOGGED_OUT, message: str = "Logged out"
) -> None:
    """Close ``user``'s open websockets in every application; callable from any thread.

    ``user_logged_out`` calls it; call it yourself when a user is deactivated or changes
    password.
    """
    key = _user_key(user)
    if key is None:
        return
    with _trackers_lock:
        trackers = list(_trackers)
    for tracker in trackers:
        tracker.close_user_threadsafe(key, code, message.encode())


def _on_logged_out(sender: object, user: object = None, **kwargs: object) -> None:
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
