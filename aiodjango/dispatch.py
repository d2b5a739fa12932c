"""Turns an ``AsyncViewDef`` into the aiohttp handler that gives it Django's protections.

An async view gets what Django's stack would give a Django view: the host checked against
``ALLOWED_HOSTS`` (400; the host an absolute-form request names counts, not only ``Host``),
a body size limit (413), and an exception turned into Django's own error response (logged on
``django.request``, the debug page when ``DEBUG=True``, Django's 404/403/400 for
``Http404``/``PermissionDenied``/``SuspiciousOperation``). aiohttp's ``HTTPException``
responses pass through untouched; a body aiohttp cannot parse (``request.post()`` on a
malformed multipart body) is a 400, as in Django. A client that leaves is an ordinary end:
logged at debug level, never as a 500, and a cancelled view (aiohttp's
``handler_cancellation``) is not logged at all. Unsafe methods get Django's CSRF check
(``auth.csrf_rejection``) unless the handler is ``csrf_exempt``; websocket views go to
``websocket.serve_websocket``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

import aiohttp
from aiohttp import web
from django.conf import settings

from .auth import csrf_rejection
from .database import ViewLease
from .interop import (
    allowed_host,
    bad_host,
    continue_or_refuse,
    django_error_response,
    django_request,
)
from .registry import AsyncViewDef
from .websocket import serve_websocket

__all__ = ("CLIENT_CLOSED_REQUEST", "expect_handler", "wrap_view")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CLIENT_CLOSED_REQUEST: Final = 499  # nginx's status for a client that left: the access log's
logger: Final = logging.getLogger("aiodjango.request")
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# A ValueError/AssertionError raised in these files is a body aiohttp could not parse.
_BODY_PARSERS: Final = frozenset(
    str(Path(aiohttp.__file__).parent / name) for name in ("multipart.py", "web_request.py")
)


def _client_left(request: web.Request, exc: Exception) -> bool:
    transport = request.transport
    return isinstance(exc, ConnectionError) and (transport is None or transport.is_closing())


def _unparsable_body(exc: Exception) -> bool:
    if not isinstance(exc, ValueError | AssertionError):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_filename in _BODY_PARSERS


def expect_handler(max_body_size: int | None) -> Callable[[web.Request], Awaitable[None]]:
    """The async views' ``Expect: 100-continue`` answer: 413 before ``100`` past the limit."""

    async def expect(request: web.Request) -> None:
        await continue_or_refuse(request, max_body_size)

    return expect


def wrap_view(view_def: AsyncViewDef, *, max_body_size: int | None) -> Handler:
    """The aiohttp handler serving ``view_def``: checks, then the view, then error handling."""
    handler = view_def.handler
    websocket = view_def.websocket
    # Django's csrf_exempt (placed below @async_view) opts out; websockets check Origin instead.
    check_csrf = not websocket and not getattr(handler, "csrf_exempt", False)

    async def serve(request: web.Request) -> web.StreamResponse:
        if allowed_host(request) is None:
            raise bad_host(request)
        if max_body_size is not None and request.body_exists:  # no body: nothing to measure
            length = request.content_length
            if length is not None and length > max_body_size:
                raise web.HTTPRequestEntityTooLarge(max_size=max_body_size, actual_size=length)
            if max_body_size == 0:  # aiohttp reads 0 as "no limit"
                raise web.HTTPRequestEntityTooLarge(max_size=0, actual_size=length or 1)
        try:
            if websocket:
                return await serve_websocket(view_def, request)
            if check_csrf and request.method not in _SAFE_METHODS:
                rejected = await csrf_rejection(request)
                if rejected is not None:
                    return rejected
            # The view's sync code and async ORM (docs/database.md); the lease takes a thread
            # only at the first such call, and is only finished if that happened.
            lease = ViewLease()
            token = ViewLease.enter(lease)
            try:
                return await handler(request)  # type: ignore[no-any-return]
            finally:
                ViewLease.exit(token)
                if lease._used:
                    await lease.finish()
                else:
                    lease._closed = True
        except web.HTTPException:
            raise
        except Exception as exc:
            if _client_left(request, exc):
                logger.debug("Client left during %s %s: %r", request.method, request.path, exc)
                return web.Response(status=CLIENT_CLOSED_REQUEST, reason="Client Closed Request")
            if _unparsable_body(exc):
                raise web.HTTPBadRequest(text=f"Bad Request (400): {exc}") from exc
            if getattr(settings, "DEBUG_PROPAGATE_EXCEPTIONS", False):
                raise
            return await asyncio.to_thread(django_error_response, django_request(request), exc)

    serve.__name__ = serve.__qualname__ = getattr(handler, "__qualname__", "view")
    return serve
