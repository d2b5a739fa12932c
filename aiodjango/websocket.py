"""Websocket views: the handshake checks, the handler call, the bounded close.

A ``@async_view(..., websocket=True)`` handler is ``async def handler(request, ws)``. Before the
upgrade the request must be a GET (else 405) asking for a websocket (else 426) of version 13
(else 426 naming it), from an allowed ``Origin`` (else 403, logged on ``aiodjango.websocket``)
and, under ``@login_required``, from a logged-in user (else 403). The handler gets the prepared
``ws``; when it returns the socket is closed with 1000, when it raises with 1011 and the
traceback is logged on ``django.request``. A client that leaves is an ordinary end (debug log).

Once open, each connection is guarded (``peer.PeerGuard``, between the transport and aiohttp):
an unmasked client frame closes it with 1002, and a peer that leaves the send buffer full for
``AIODJANGO_WS_SEND_TIMEOUT`` seconds (it stopped reading) is dropped with a logged warning, so
a handler writing to it is released and memory stays bounded. Every close the framework makes
takes at most ``AIODJANGO_WS_CLOSE_TIMEOUT`` seconds, then the connection is aborted.

Each application keeps its open sockets in a ``WebSocketTracker`` (``app[WEBSOCKETS_KEY]``,
in ``tracking``): Django's ``user_logged_out`` closes that user's sockets with 4001 in every
worker, and the application's ``on_shutdown`` closes all of them with 1001. This module
re-exports the tracking names and the close codes, so ``aiodjango.websocket`` stays the one
import for websocket code.
"""

from __future__ import annotations

import logging
from typing import Any, Final
from urllib.parse import urlsplit

from aiohttp import web
from django.conf import settings
from django.http import HttpRequest
from django.http.request import split_domain_port, validate_host
from django.urls import reverse
from django.utils.http import is_same_domain

from .auth import get_user, login_requirement
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
from .peer import PeerGuard, peer_gone
from .registry import AsyncViewDef
from .tracking import (
    CLOSE_USER_CONTROL,
    WEBSOCKETS_KEY,
    WebSocketTracker,
    close_user_websockets,
    on_close_user,
    on_user_logged_out,
    track_websockets,
)

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
        heartbeat=None,  # aiohttp's resets a timer per message; PeerGuard's pulse does not
        max_msg_size=limit + (0 if deflate or not limit else 1),
        timeout=close_timeout,
    )
    guard = PeerGuard.install(request, ws, conf.WS_SEND_TIMEOUT, close_timeout, conf.WS_SEND_BUFFER)
    try:
        await ws.prepare(request)  # a bad Sec-WebSocket-Key is a 400 here
    except BaseException:
        if guard is not None:
            guard.remove()
        raise
    ws[WS_REQUEST_KEY] = request  # close_bounded() aborts its transport if a close stalls
    if guard is not None:
        guard.start(conf.WS_HEARTBEAT)
    tracker = request.app.get(WEBSOCKETS_KEY)
    if tracker is not None:
        tracker.add(ws, request)
    try:
        async with DatabaseLease(release_when_idle=True):  # no thread while idle
            await view_def.handler(request, ws)
    except Exception as exc:
        if isinstance(exc, ConnectionError) and (ws.closed or peer_gone(request)):
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
