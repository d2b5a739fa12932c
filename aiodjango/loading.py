"""Loading what to serve: one rule for ``python -m aiodjango``, the gunicorn worker and runserver.

A target is named ``package.module:attribute`` (gunicorn's form) or ``package.module.attribute``
(Django's dotted form, as in ``WSGI_APPLICATION``). What it names decides what is served:

* an ``aiohttp.web.Application`` is served as it is;
* a WSGI application is wrapped with ``get_aio_application()``: Django's ``WSGIHandler`` (what
  ``get_wsgi_application()`` returns), or any callable taking two positional arguments
  (``environ, start_response``; WSGI middleware included);
* a factory is called: a coroutine function (awaited on the serving loop, aiohttp's convention)
  or a plain callable that takes no arguments; it must return an ``Application``.

The two kinds of callable are told apart by their signature: callable with no arguments means a
factory, with two positional arguments a WSGI application. Anything else is refused with one
message, the same in every entry point.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Final, cast

import django
from aiohttp import web
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.wsgi import WSGIHandler

from .application import get_aio_application
from .server import AppFactory
from .wsgi import WSGIApplication

__all__ = ("ACCEPTED", "as_application", "check_application", "load_application")

ACCEPTED: Final = (
    "an aiohttp web.Application, a function returning one (async or not, called with no "
    "arguments), or a WSGI application (Django's get_wsgi_application(), or a callable taking "
    "environ and start_response), as module:attribute or module.attribute"
)


def load_application(
    target: str, *, wsgi_threads: int | None = None
) -> web.Application | AppFactory:
    """The app ``target`` names, ready to serve; an async factory is returned un-awaited.

    Parameters:
        target: ``module:attribute`` or ``module.attribute``.
        wsgi_threads: the thread pool size when a WSGI application gets wrapped
            (``AIODJANGO_WSGI_THREADS`` when None).

    Raises ``ImproperlyConfigured`` naming the target, what it was, and what is accepted.
    """
    return as_application(target, _import(target), wsgi_threads=wsgi_threads)


def as_application(
    target: str, obj: object, *, wsgi_threads: int | None = None
) -> web.Application | AppFactory:
    """What ``load_application()`` makes of ``obj``, already imported from ``target``."""
    if isinstance(obj, web.Application):
        return obj
    if inspect.iscoroutinefunction(obj):
        if not _takes(obj, 0):
            raise _refused(target, obj, "an async function that needs arguments")
        factory = cast(AppFactory, obj)

        async def checked() -> web.Application:
            return check_application(target, await factory())

        return checked
    if isinstance(obj, WSGIHandler) or (callable(obj) and _takes(obj, 2) and not _takes(obj, 0)):
        if not apps.ready:  # a bare WSGI callable: Django itself was never set up
            django.setup(set_prefix=False)
        return get_aio_application(cast(WSGIApplication, obj), wsgi_threads=wsgi_threads)
    if callable(obj) and _takes(obj, 0):
        return check_application(target, obj())
    raise _refused(target, obj)


def check_application(target: str, app: object) -> web.Application:
    """``app`` if it is an ``Application``; else the loader's error, for what a factory gave."""
    if not isinstance(app, web.Application):
        raise _refused(target, app, f"a factory returning {app!r}")
    return app


def _import(target: str) -> object:
    module_name, colon, attribute = target.partition(":")
    if not colon:
        module_name, _, attribute = target.rpartition(".")
    if not module_name or not attribute:
        raise ImproperlyConfigured(
            f"Cannot serve {target!r}: expected module:attribute or module.attribute "
            "(e.g. project.wsgi:application)."
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImproperlyConfigured(f"Cannot serve {target!r}: {exc}") from exc
    obj: object = module
    for name in attribute.split("."):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise ImproperlyConfigured(
                f"Cannot serve {target!r}: module {module_name!r} has no attribute {attribute!r}."
            ) from None
    return obj


def _takes(function: object, count: int) -> bool:
    """Whether ``function`` can be called with ``count`` positional arguments."""
    try:
        signature = inspect.signature(function)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


def _refused(target: str, obj: object, what: str | None = None) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"Cannot serve {target!r}: it is {what or repr(obj)}; expected {ACCEPTED}."
    )
