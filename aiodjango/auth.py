"""Django's users in aiohttp handlers: ``await get_user(request)``, ``login_required`` and CSRF.

The user comes from Django itself: the session cookie is opened with ``SESSION_ENGINE`` and the
user loaded by ``django.contrib.auth.get_user`` (backends, session hash) on a worker thread, so
any session engine works and the event loop never waits on the database. An optional token
authenticator (``AIODJANGO_TOKEN_AUTHENTICATOR``) is asked first. Unsafe requests to async HTTP
handlers get Django's own ``CsrfViewMiddleware`` verdict (``dispatch`` calls ``csrf_rejection``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast, overload
from urllib.parse import urlsplit

from aiohttp import web
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.db import close_old_connections
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware

from .conf import conf
from .interop import CLOSE_POLICY_VIOLATION, django_request, django_response
from .registry import MARK, get_view_def

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponseBase

    User = AbstractBaseUser | AnonymousUser

__all__ = (
    "LOGIN_MARK",
    "USER_KEY",
    "LoginRequirement",
    "cached_user",
    "csrf_rejection",
    "get_user",
    "login_requirement",
    "login_required",
)

H = TypeVar("H", bound=Callable[..., Awaitable[Any]])

USER_KEY: Final[web.RequestKey[User]] = web.RequestKey("aiodjango_user")
LOGIN_MARK: Final = "__aiodjango_login_required__"
_FORM_TYPES: Final = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


async def get_user(request: web.Request | HttpRequest) -> User:
    """The user making ``request``, or ``AnonymousUser``; loaded once per request.

    The token authenticator (``AIODJANGO_TOKEN_AUTHENTICATOR``), when set, is asked first; if it
    returns None the session cookie decides. For a websocket the request lives as long as the
    socket, so the user is loaded once per connection. A Django request is answered by its own
    ``auser()``.
    """
    if isinstance(request, HttpRequest):
        return await _django_user(request)
    user = request.get(USER_KEY)
    if user is None:
        user = await _authenticate(request)
        request[USER_KEY] = user
    return user


def cached_user(request: web.Request) -> User | None:
    """The user ``get_user()`` already loaded for ``request``, without loading it."""
    return request.get(USER_KEY)


async def _django_user(request: HttpRequest) -> User:
    auser = getattr(request, "auser", None)
    if auser is not None:
        return cast("User", await auser())
    from django.contrib.auth import get_user as django_get_user

    if not hasattr(request, "session"):
        request.session = _session_store(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    load = sync_to_async(_in_request_cycle(django_get_user), thread_sensitive=False)
    return cast("User", await load(request))


async def _authenticate(request: web.Request) -> User:
    authenticator = conf.TOKEN_AUTHENTICATOR
    if authenticator is not None:
        user = await authenticator(request)
        if user is not None:
            return cast("User", user)
    session_key = request.cookies.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        from django.contrib.auth.models import AnonymousUser

        return AnonymousUser()
    load = sync_to_async(_session_user, thread_sensitive=False)
    return cast("User", await load(django_request(request), session_key))


def _session_store(session_key: str | None) -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key)


def _in_request_cycle(function: Callable[..., Any]) -> Callable[..., Any]:
    # What Django's request_started/request_finished do for a view: drop stale connections.
    @functools.wraps(function)
    def run(*args: Any) -> Any:
        close_old_connections()
        try:
            return function(*args)
        finally:
            close_old_connections()

    return run


@_in_request_cycle
def _session_user(request: WSGIRequest, session_key: str) -> User:
    from django.contrib.auth import get_user as django_get_user

    request.session = _session_store(session_key)
    return django_get_user(request)


@dataclasses.dataclass(frozen=True)
class LoginRequirement:
    """What ``login_required`` asked for: where to send anonymous users of an HTTP handler."""

    login_url: str | None = None
    redirect_field_name: str = "next"


def login_requirement(handler: object) -> LoginRequirement | None:
    """The ``LoginRequirement`` of a handler wrapped by ``login_required``, if any."""
    found = getattr(handler, LOGIN_MARK, None)
    return found if isinstance(found, LoginRequirement) else None


@overload
def login_required(handler: H, /) -> H: ...


@overload
def login_required(
    *, login_url: str | None = None, redirect_field_name: str = "next"
) -> Callable[[H], H]: ...


def login_required(
    handler: H | None = None,
    /,
    *,
    login_url: str | None = None,
    redirect_field_name: str = "next",
) -> H | Callable[[H], H]:
    """Only logged-in users reach the handler, as Django's ``login_required`` does for views.

    An HTTP handler redirects anonymous users to ``login_url`` (default ``LOGIN_URL``) with
    ``?next=<path>``. A websocket handler refuses the handshake with 403 before the upgrade.
    Put it below ``@async_view(...)``, which must see the protected handler.

    Parameters:
        login_url: where to log in; a URL or URL name, ``settings.LOGIN_URL`` when omitted.
        redirect_field_name: the query parameter carrying the path to come back to.
    """
    requirement = LoginRequirement(login_url, redirect_field_name)

    def decorate(view: H) -> H:
        view_def = get_view_def(view)
        if view_def is not None and view_def.pattern is not None:
            raise TypeError(
                f"@login_required is above @async_view({view_def.pattern!r}) on "
                f"{view_def.handler!r}, so the unprotected handler is already registered. "
                "Put @login_required below @async_view."
            )

        @functools.wraps(view)
        async def protected(request: web.Request, *args: Any, **kwargs: Any) -> Any:
            if not (await get_user(request)).is_authenticated:
                if args and isinstance(args[0], web.WebSocketResponse):
                    # Normally refused before the upgrade; this covers a direct call.
                    await args[0].close(code=CLOSE_POLICY_VIOLATION, message=b"Login required")
                    return None
                return _redirect_to_login(request, requirement)
            return await view(request, *args, **kwargs)

        setattr(protected, LOGIN_MARK, requirement)
        if view_def is not None:  # a URLconf view marked with @async_view: mark the wrapper
            setattr(protected, MARK, dataclasses.replace(view_def, handler=protected))
        return cast(H, protected)

    return decorate if handler is None else decorate(handler)


def _redirect_to_login(request: web.Request, requirement: LoginRequirement) -> web.Response:
    # Django's user_passes_test, on a Django view of this aiohttp request.
    from django.contrib.auth.views import redirect_to_login
    from django.shortcuts import resolve_url

    django = django_request(request)
    path = django.build_absolute_uri()
    login_url = resolve_url(requirement.login_url or settings.LOGIN_URL)
    login_scheme, login_netloc = urlsplit(login_url)[:2]
    current_scheme, current_netloc = urlsplit(path)[:2]
    if (not login_scheme or login_scheme == current_scheme) and (
        not login_netloc or login_netloc == current_netloc
    ):
        path = django.get_full_path()
    response = redirect_to_login(path, login_url, requirement.redirect_field_name)
    return web.Response(status=302, headers={"Location": response["Location"]})


def _csrf_header() -> str:
    return settings.CSRF_HEADER_NAME.removeprefix("HTTP_").replace("_", "-")


async def csrf_rejection(request: web.Request) -> web.StreamResponse | None:
    """Django's CSRF verdict on an unsafe request: None to serve it, else the 403 to send.

    ``CsrfViewMiddleware`` itself judges a Django view of the request (Origin, Referer, token
    from the ``X-CSRFToken`` header or the form field against the cookie or session). The body
    is read only for a form POST without the header; aiohttp keeps it for the handler. The
    Django request judged is the request's own (``django_request()``), built here with the body
    when the token may be in it.
    """
    body = None
    if (
        request.method == "POST"
        and _csrf_header() not in request.headers
        and request.content_type in _FORM_TYPES
    ):
        body = await request.read()
    django = django_request(request, body)
    response = await sync_to_async(_csrf_verdict, thread_sensitive=False)(django)
    return None if response is None else django_response(response)


def _csrf_protected(request: HttpRequest) -> None:
    """Stands for the aiohttp handler in ``process_view`` (it is never exempt there)."""


@_in_request_cycle
def _csrf_verdict(request: WSGIRequest) -> HttpResponseBase | None:
    if settings.CSRF_USE_SESSIONS:
        request.session = _session_store(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    middleware = CsrfViewMiddleware(_csrf_protected)  # type: ignore[arg-type]
    middleware.process_request(request)
    return middleware.process_view(request, _csrf_protected, (), {})  # type: ignore[arg-type]
