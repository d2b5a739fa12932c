"""Django interop for aiohttp requests: the WSGI environ, the Django request, the host rule.

Everything here is a leaf that ``dispatch``, ``auth``, ``websocket`` and the WSGI bridge share:

* ``environ_for()`` builds the PEP 3333 environ of an aiohttp request (the path's bytes
  tunnelled through latin-1; for an absolute-form target, RFC 9112 §3.2.2's authority as
  ``HTTP_HOST``);
* ``django_request()`` gives the one Django ``HttpRequest`` of an aiohttp request, built at
  most once and kept on the request (sessions, CSRF, error pages and login redirects share it);
* ``django_response()`` turns a non-streaming Django response into an aiohttp one;
* ``script_prefix()``/``path_info()`` are the path-prefix rule (``FORCE_SCRIPT_NAME``): which
  part of the URL is Django's ``SCRIPT_NAME`` and which its ``PATH_INFO`` (the prefix is
  cached; ``forget_prefix`` empties it on setting changes);
* ``django_error_response()`` renders Django's error response for an exception, and
  ``bad_host()`` is the 400 for a host ``ALLOWED_HOSTS`` refuses;
* ``allowed_host()``/``allowed_hosts()`` are the single "``ALLOWED_HOSTS``, else the ``DEBUG``
  defaults" rule, with a small verdict cache that ``forget_hosts`` empties on setting changes
  (connected once, in ``AiodjangoConfig.ready()``);
* the websocket close codes, so that no module hard-codes a number, and ``close_bounded()``,
  the one websocket close that a peer which stopped reading cannot hold up (``websocket`` and
  the groups backends share it).

It imports nothing from aiodjango.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Mapping
from io import BytesIO
from typing import IO, Any, Final
from urllib.parse import unquote_to_bytes
from wsgiref.util import is_hop_by_hop

from aiohttp import HttpVersion11, hdrs, web
from django.conf import settings
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponseBase
from django.http.request import split_domain_port, validate_host
from django.urls import set_script_prefix
from yarl import URL

__all__ = (
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_LOGGED_OUT",
    "CLOSE_MESSAGE_TOO_BIG",
    "CLOSE_NORMAL",
    "CLOSE_POLICY_VIOLATION",
    "CLOSE_PROTOCOL_ERROR",
    "DJANGO_REQUEST_KEY",
    "PREFIX_HEADER",
    "WS_REQUEST_KEY",
    "Environ",
    "allowed_host",
    "allowed_hosts",
    "bad_host",
    "close_bounded",
    "continue_or_refuse",
    "django_error_response",
    "django_request",
    "django_response",
    "environ_for",
    "forget_hosts",
    "forget_prefix",
    "path_info",
    "request_host",
    "script_prefix",
)

Environ = dict[str, Any]

CLOSE_NORMAL: Final = 1000  # the handler returned
CLOSE_GOING_AWAY: Final = 1001  # the application is shutting down
CLOSE_PROTOCOL_ERROR: Final = 1002  # the client broke RFC 6455 (e.g. an unmasked frame)
CLOSE_POLICY_VIOLATION: Final = 1008  # login_required handler called directly, anonymously
CLOSE_MESSAGE_TOO_BIG: Final = 1009  # a message above AIODJANGO_WS_MAX_MESSAGE_SIZE
CLOSE_INTERNAL_ERROR: Final = 1011  # the handler raised
CLOSE_LOGGED_OUT: Final = 4001  # the socket's user logged out

DJANGO_REQUEST_KEY: Final[web.RequestKey[WSGIRequest]] = web.RequestKey("aiodjango_django_request")
# The request a served websocket came from, kept on the socket: close_bounded() aborts its
# transport, whoever holds only the socket (a groups backend).
WS_REQUEST_KEY: Final[web.ResponseKey[web.BaseRequest]] = web.ResponseKey("aiodjango_ws_request")
_ws_logger: Final = logging.getLogger("aiodjango.websocket")
_security_logger: Final = logging.getLogger("django.security.DisallowedHost")
# A proxy that strips the site's prefix says so with this header (Traefik's StripPrefix sends
# it; nginx: proxy_set_header). Its value must equal FORCE_SCRIPT_NAME to count.
PREFIX_HEADER: Final = "X-Forwarded-Prefix"

_DEBUG_HOSTS: Final = (".localhost", "127.0.0.1", "[::1]")
_NO_EXTRA: Final[Mapping[str, Any]] = {}


def request_host(request: web.BaseRequest) -> str | None:
    """The authority the client asked for: an absolute-form target's, else the ``Host`` header.

    RFC 9112 §3.2.2: a server receiving ``GET http://a.example/x HTTP/1.1`` must use
    ``a.example`` and ignore ``Host``; aiohttp then shows that authority in ``request.host``
    and ``request.url``, so it is what ``ALLOWED_HOSTS`` must judge.
    """
    target = request.raw_path
    if target[:1] != "/" and "://" in target:
        return URL(target).raw_authority
    return request.headers.get("Host")


# script_prefix()'s value once read: a settings read through LazySettings costs ~0.3 us, a
# list lookup ~0.03 us, on every request. Emptied by forget_prefix (AiodjangoConfig.ready()).
_prefix_cache: Final[list[str]] = []


def script_prefix() -> str:
    """The site's path prefix: ``FORCE_SCRIPT_NAME`` without its final ``/`` (``""``: none)."""
    if _prefix_cache:
        return _prefix_cache[0]
    configured: str | None = settings.FORCE_SCRIPT_NAME
    prefix = configured.rstrip("/") if configured else ""
    _prefix_cache.append(prefix)
    return prefix


def forget_prefix(*, setting: str, **kwargs: object) -> None:
    """``setting_changed`` receiver: re-read ``FORCE_SCRIPT_NAME`` once it changes."""
    if setting == "FORCE_SCRIPT_NAME":
        _prefix_cache.clear()


def path_info(request: web.BaseRequest, path: str, prefix: str) -> str:
    """``path`` without the site's ``prefix``: Django's ``PATH_INFO``.

    Both kinds of proxy work with no more configuration, as under Django's ASGI handler: one
    that forwards ``/app/...`` as is (``/app/hello/`` gives ``/hello/``, ``/app`` gives ``""``,
    which Django reads as ``/``), and one that strips the prefix, whose paths (``/hello/``) are
    taken as they are, as Django on WSGI takes them. Unlike Django's ASGI handler the prefix is
    only removed at a segment boundary (``/apple/`` stays ``/apple/``). A request whose
    ``X-Forwarded-Prefix`` equals the prefix was stripped by the proxy: its path is never
    stripped again, which matters only for a URLconf that itself has paths under the prefix.
    ``path`` and ``prefix`` are in the same form (decoded, or the WSGI latin-1 tunnel).
    """
    forwarded = request.headers.get(PREFIX_HEADER)
    if forwarded is not None and forwarded.rstrip("/") == prefix:
        return path
    if path.startswith(prefix):
        rest = path[len(prefix) :]
        if not rest or rest[0] == "/":
            return rest
    return path


def _sockname(address: object) -> tuple[str, str]:
    if isinstance(address, tuple | list):
        return str(address[0]), str(address[1])
    return "unix", str(address)


def environ_for(
    request: web.BaseRequest,
    body: IO[bytes],
    content_length: int,
    *,
    executor: object = None,
    extra: Mapping[str, Any] = _NO_EXTRA,
) -> Environ:
    """The WSGI environ for ``request``, with the path's bytes tunnelled through latin-1.

    ``extra`` adds or overrides keys (the WSGI bridge gives its ``wsgi.errors`` and
    ``wsgi.file_wrapper``).
    """
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport else None
    peername = transport.get_extra_info("peername") if transport else None
    server_name, server_port = _sockname(sockname) if sockname else ("127.0.0.1", "0")
    remote_addr, remote_port = _sockname(peername) if peername else ("", "")
    raw_path = request.rel_url.raw_path
    path = unquote_to_bytes(raw_path).decode("latin-1") if "%" in raw_path else raw_path
    script_name = script_prefix()
    if script_name:
        script_name = script_name.encode().decode("latin-1")  # the URL's bytes, as PATH_INFO's
        path = path_info(request, path, script_name)
    environ: Environ = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path,
        "RAW_URI": request.raw_path,
        "REQUEST_URI": request.raw_path,
        "QUERY_STRING": request.rel_url.raw_query_string,
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(content_length),
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "REMOTE_ADDR": remote_addr,
        "REMOTE_HOST": remote_addr,
        "REMOTE_PORT": remote_port,
        "SERVER_PROTOCOL": "HTTP/{}.{}".format(*request.version),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https" if request.secure else "http",
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "asyncio.executor": executor,
        "aiohttp.request": request,
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_LENGTH", "CONTENT_TYPE") or is_hop_by_hop(name):
            continue
        key = "HTTP_" + key
        if key in environ:  # a repeated header: joined in order
            environ[key] += ("; " if key == "HTTP_COOKIE" else ",") + value
        else:
            environ[key] = value
    if request.raw_path[:1] != "/":  # absolute-form: the target's authority wins over Host
        authority = request_host(request)
        if authority:
            environ["HTTP_HOST"] = authority
    environ.update(extra)
    return environ


def django_request(request: web.BaseRequest, body: bytes | None = None) -> WSGIRequest:
    """The Django ``HttpRequest`` of ``request``: built once, then the same object every time.

    It has no body unless ``body`` is given the first time (CSRF passes a form POST's body so
    that ``csrfmiddlewaretoken`` is found); read the body from the aiohttp request instead.
    A ``body`` given after the request was built gets a separate, uncached request.
    """
    cached: WSGIRequest | None = request.get(DJANGO_REQUEST_KEY)
    if cached is not None and body is None:
        return cached
    data = body or b""
    django = WSGIRequest(environ_for(request, BytesIO(data), len(data)))
    if cached is None:
        request[DJANGO_REQUEST_KEY] = django
    return django


def django_response(response: HttpResponseBase) -> web.Response:
    """An aiohttp response carrying a (non-streaming) Django response's status, headers, body."""
    headers = [(k, v) for k, v in response.items()]
    headers += [("Set-Cookie", c.output(header="").strip()) for c in response.cookies.values()]
    body = getattr(response, "content", b"")
    return web.Response(status=response.status_code, headers=headers, body=body)


def django_error_response(django: WSGIRequest, exc: Exception) -> web.Response:
    """Django's response for ``exc`` (its 404/403/400/500 views, the debug pages), in a thread.

    Call it through ``asyncio.to_thread``: ``exc`` is re-raised so that Django's handler sees
    it in ``sys.exc_info()``, and the script prefix is set, as ``WSGIHandler`` does, for the
    ``{% url %}`` of an error template.
    """
    set_script_prefix(django.META["SCRIPT_NAME"] or "/")
    try:
        raise exc
    except Exception as raised:
        return django_response(response_for_exception(django, raised))


def bad_host(request: web.BaseRequest) -> web.HTTPBadRequest:
    """The 400 for a host ``ALLOWED_HOSTS`` refuses, logged as Django logs it."""
    host = request_host(request) or ""
    _security_logger.error("Invalid HTTP_HOST header: %r.", host)
    return web.HTTPBadRequest(text=f"Bad Request (400): invalid Host header {host!r}.")


def allowed_hosts() -> list[str]:
    """Django's host allow-list: ``ALLOWED_HOSTS``, or its localhost defaults under ``DEBUG``."""
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        return list(_DEBUG_HOSTS)
    return allowed


# The authority used, or (authority used, X-Forwarded-Host) -> the accepted host or None.
# Checking costs ~5 us (three settings reads through LazySettings, a regex, the ALLOWED_HOSTS
# loop) against ~0.1 us for the lookup; bounded, since the header is the client's to choose;
# emptied when a setting it uses changes (forget_hosts, connected in AiodjangoConfig.ready()).
_host_cache: Final[dict[str | tuple[str | None, str] | None, str | None]] = {}
_HOST_CACHE_SIZE: Final = 512
_HOST_SETTINGS: Final = frozenset({"ALLOWED_HOSTS", "DEBUG", "USE_X_FORWARDED_HOST"})


def allowed_host(request: web.BaseRequest) -> str | None:
    """The request's host if ``ALLOWED_HOSTS`` accepts it (Django's ``get_host()`` rule).

    The host judged is the one the client actually asked for (``request_host()``: an
    absolute-form target's authority, else ``Host``), or ``X-Forwarded-Host`` under
    ``USE_X_FORWARDED_HOST``.
    """
    headers = request.headers
    # request_host() inlined for the usual origin-form target; the key is the Host header
    # alone unless X-Forwarded-Host is sent (a tuple then, so the two never collide).
    # hdrs' istr names: a case-insensitive lookup with no lower-casing per request.
    asked = headers.get(hdrs.HOST) if request.raw_path[:1] == "/" else request_host(request)
    sent = headers.get(hdrs.X_FORWARDED_HOST)
    key = asked if sent is None else (asked, sent)
    try:
        return _host_cache[key]
    except KeyError:
        pass
    forwarded = sent if settings.USE_X_FORWARDED_HOST else None
    host = forwarded or asked or ""
    domain, _ = split_domain_port(host)
    accepted = host if domain and validate_host(domain, allowed_hosts()) else None
    if len(_host_cache) >= _HOST_CACHE_SIZE:
        _host_cache.clear()
    _host_cache[key] = accepted
    return accepted


def forget_hosts(*, setting: str, **kwargs: object) -> None:
    """``setting_changed`` receiver: a host verdict is stale once a setting it used changes."""
    if setting in _HOST_SETTINGS:
        _host_cache.clear()


async def continue_or_refuse(request: web.Request, limit: int | None) -> None:
    """A route's expect handler: 413 for a ``Content-Length`` over ``limit``, else ``100``.

    aiohttp's default answers ``100 Continue`` first, inviting the body it then refuses; a
    client that waits for the 100 gets the 413 at once instead. ``limit`` None is no limit,
    0 refuses any body.
    """
    length = request.content_length
    if limit is not None and length is not None and (length > limit or limit == 0 < length):
        error = web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=length)
        error.force_close()  # the rest of the body is not wanted on this connection
        raise error
    expect = request.headers.get("Expect", "")
    if request.version != HttpVersion11 or expect.lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0


async def close_bounded(
    ws: web.WebSocketResponse, code: int, message: bytes, within: float
) -> None:
    """Close ``ws``; if that takes over ``within`` seconds, abort the connection.

    aiohttp's ``close()`` waits for the send buffer to drain and for the peer's close frame;
    a peer that stopped reading would hold it (and shutdown) forever. Callers pass
    ``conf.WS_CLOSE_TIMEOUT``.
    """
    if ws.closed:
        return
    request = ws.get(WS_REQUEST_KEY)
    try:
        await asyncio.wait_for(ws.close(code=code, message=message), within)
    except TimeoutError:
        path = request.path if request is not None else "?"
        _ws_logger.info("Websocket %s: close (%d) timed out; connection aborted", path, code)
        if request is not None and request.transport is not None:
            request.transport.abort()  # close() would keep an unflushable buffer, and the socket
