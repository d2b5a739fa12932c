"""Turns an ``AsyncViewDef`` into the aiohttp handler that gives it Django's protections.

An async view gets what Django's stack would give a Django view: the ``Host`` header checked
against ``ALLOWED_HOSTS`` (400), a body size limit (413), and an exception turned into Django's
own error response (logged on ``django.request``, the debug page when ``DEBUG=True``, Django's
404/403/400 for ``Http404``/``PermissionDenied``/``SuspiciousOperation``). aiohttp's
``HTTPException`` responses pass through untouched. Unsafe methods get Django's CSRF check
(``auth.csrf_rejection``) unless the handler is ``csrf_exempt``; websocket views go to
``websocket.serve_websocket``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from django.conf import settings
from django.core.handlers.exception import response_for_exception
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponseBase
from django.http.request import split_domain_port, validate_host

from .registry import AsyncViewDef
from .wsgi import django_request

__all__ = ("allowed_host", "django_response", "wrap_view")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

security_logger: Final = logging.getLogger("django.security.DisallowedHost")
_DEBUG_HOSTS: Final = [".localhost", "127.0.0.1", "[::1]"]
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


# Host header values seen -> the accepted host or None. Checking costs ~5 us (three settings
# reads through LazySettings, a regex, the ALLOWED_HOSTS loop) against ~0.1 us for the lookup;
# bounded, since the header is the client's to choose; emptied when a setting it uses changes.
_host_cache: Final[dict[tuple[str | None, str | None], str | None]] = {}
_HOST_CACHE_SIZE: Final = 512
_HOST_SETTINGS: Final = frozenset({"ALLOWED_HOSTS", "DEBUG", "USE_X_FORWARDED_HOST"})


def allowed_host(request: web.BaseRequest) -> str | None:
    """The request's host if ``ALLOWED_HOSTS`` accepts it (Django's ``get_host()`` rule)."""
    headers = request.headers
    key = (headers.get("Host"), headers.get("X-Forwarded-Host"))
    try:
        return _host_cache[key]
    except KeyError:
        pass
    forwarded = key[1] if settings.USE_X_FORWARDED_HOST else None
    host = forwarded or key[0] or ""
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = _DEBUG_HOSTS
    domain, _ = split_domain_port(host)
    accepted = host if domain and validate_host(domain, allowed) else None
    if len(_host_cache) >= _HOST_CACHE_SIZE:
        _host_cache.clear()
    _host_cache[key] = accepted
    return accepted


@receiver(setting_changed)
def _forget_hosts(*, setting: str, **kwargs: object) -> None:
    if setting in _HOST_SETTINGS:
        _host_cache.clear()


def django_response(response: HttpResponseBase) -> web.Response:
    """An aiohttp response carrying a (non-streaming) Django response's status, headers, body."""
    headers = [(k, v) for k, v in response.items()]
    headers += [("Set-Cookie", c.output(header="").strip()) for c in response.cookies.values()]
    body = getattr(response, "content", b"")
    return web.Response(status=response.status_code, headers=headers, body=body)


def _error_response(request: web.Request, exc: Exception) -> web.Response:
    # Runs in a thread, with ``exc`` re-raised so Django's handler sees it in sys.exc_info().
    try:
        raise exc
    except Exception as raised:
        return django_response(response_for_exception(django_request(request), raised))


async def _handle_exception(request: web.Request, exc: Exception) -> web.Response:
    return await asyncio.to_thread(_error_response, request, exc)


def wrap_view(view_def: AsyncViewDef, *, max_body_size: int | None) -> Handler:
    """The aiohttp handler serving ``view_def``: checks, then the view, then error handling."""
    from .auth import csrf_rejection
    from .websocket import serve_websocket

    handler = view_def.handler
    # Django's csrf_exempt (placed below @async_view) opts out; websockets check Origin instead.
    check_csrf = not view_def.websocket and not getattr(handler, "csrf_exempt", False)

    async def serve(request: web.Request) -> web.StreamResponse:
        if allowed_host(request) is None:
            host = request.headers.get("Host", "")
            security_logger.error("Invalid HTTP_HOST header: %r.", host)
            raise web.HTTPBadRequest(text=f"Bad Request (400): invalid Host header {host!r}.")
        length = request.content_length
        if max_body_size is not None and length is not None and length > max_body_size:
            raise web.HTTPRequestEntityTooLarge(max_size=max_body_size, actual_size=length)
        if max_body_size == 0 and request.body_exists:  # aiohttp reads 0 as "no limit"
            raise web.HTTPRequestEntityTooLarge(max_size=0, actual_size=length or 1)
        try:
            if view_def.websocket:
                return await serve_websocket(view_def, request)
            if check_csrf and request.method not in _SAFE_METHODS:
                rejected = await csrf_rejection(request)
                if rejected is not None:
                    return rejected
            return await handler(request)  # type: ignore[no-any-return]
        except web.HTTPException:
            raise
        except Exception as exc:
            if getattr(settings, "DEBUG_PROPAGATE_EXCEPTIONS", False):
                raise
            return await _handle_exception(request, exc)

    serve.__name__ = serve.__qualname__ = getattr(handler, "__qualname__", "view")
    return serve
