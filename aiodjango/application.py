"""``get_aio_application()``: one aiohttp application serving the whole Django project.

It walks the URLconf (discovery), merges the ``@async_view`` registry, indexes every pattern in
URLconf order (routing), and registers a single resource that sends each request to the async
view Django's resolver would pick, or to Django's WSGI app (the bridge) otherwise.
"""

from __future__ import annotations

import warnings
from typing import Any, Final, cast

from aiohttp import web
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

from .conf import conf
from .database import use_database_threads
from .discovery import discover
from .dispatch import expect_handler, wrap_view
from .groups import setup_groups
from .registry import AsyncViewRegistry, default_registry
from .resources import DjangoResource, add_named_views
from .routing import Router
from .static import serve_static_setting, static_resource
from .websocket import track_websockets
from .wsgi import WSGIApplication, WSGIBridge

__all__ = ("BRIDGE_KEY", "get_aio_application")

BRIDGE_KEY: Final = web.AppKey("aiodjango_bridge", WSGIBridge)


def get_aio_application(
    wsgi_app: WSGIApplication | WSGIHandler | None = None,
    *,
    registry: AsyncViewRegistry | None = None,
    urlconf: str | None = None,
    autodiscover: bool = True,
    include_static: bool = False,
    wsgi_threads: int | None = None,
    wsgi: WSGIApplication | WSGIHandler | None = None,
    **app_kwargs: Any,
) -> web.Application:
    """Build the aiohttp application serving async views and, for every other URL, Django.

    Parameters:
        wsgi_app: Django's WSGI app (with any WSGI middleware); ``get_wsgi_application()``
            when omitted.
        registry: the ``AsyncViewRegistry`` to serve; the default one ``@async_view`` fills.
        urlconf: the URLconf module to walk; ``ROOT_URLCONF`` when omitted.
        autodiscover: find coroutine views in the URLconf (``AIODJANGO_DISCOVERY`` says which);
            when False only ``@async_view`` views are served by aiohttp.
        include_static: serve ``STATIC_ROOT`` at ``STATIC_URL`` (as ``AIODJANGO_SERVE_STATIC``).
        wsgi_threads: threads running Django views; ``AIODJANGO_WSGI_THREADS`` when omitted.
        wsgi: the 0.2 name of ``wsgi_app``; deprecated.
        app_kwargs: passed on to ``aiohttp.web.Application`` (e.g. ``middlewares``).
    """
    if wsgi is not None:
        warnings.warn(
            "get_aio_application(wsgi=...) is deprecated; pass the WSGI app as the first "
            "argument (wsgi_app).",
            DeprecationWarning,
            stacklevel=2,
        )
        wsgi_app = wsgi_app or wsgi
    registry = default_registry if registry is None else registry
    mode = conf.DISCOVERY if autodiscover else "marked"
    endpoints = discover(urlconf, mode=mode, registry=registry)
    registry.freeze()

    max_body = conf.MAX_BODY_SIZE
    unlimited = 2**63  # AIODJANGO_MAX_BODY_SIZE = None
    app = web.Application(client_max_size=unlimited if max_body is None else max_body, **app_kwargs)
    bridge = WSGIBridge(
        # Django's stubs type WSGIHandler as returning HttpResponseBase, a WSGI iterable.
        cast(WSGIApplication, wsgi_app or get_wsgi_application()),
        threads=conf.WSGI_THREADS if wsgi_threads is None else wsgi_threads,
        max_request_body_size=conf.WSGI_MAX_BODY_SIZE,
    )
    app[BRIDGE_KEY] = bridge
    track_websockets(app)  # on_shutdown closes open websockets with 1001
    setup_groups(app)  # AIODJANGO_GROUPS backend: started on startup, stopped on cleanup
    use_database_threads(app)  # async views' sync code on the database threads

    if include_static or serve_static_setting():  # STATIC_ROOT, cache headers: static.py
        app.router.register_resource(static_resource())
    handlers = {
        endpoint.index: wrap_view(endpoint.view_def, max_body_size=max_body)
        for endpoint in endpoints
        if endpoint.view_def is not None
    }
    resource = DjangoResource(
        Router(endpoints),
        handlers,
        bridge.handle_request,
        fallback_expect=bridge.handle_expect,  # 413 before 100, for both kinds of route
        view_expect=expect_handler(max_body),
    )
    app.router.register_resource(resource)
    for literal in resource.literal_resources():  # /hello/ found at aiohttp's first lookup
        app.router.register_resource(literal)
    add_named_views(app.router, endpoints)  # app.router[name].url_for(), as reverse()

    async def shutdown_pool(app: web.Application) -> None:
        app[BRIDGE_KEY].shut_down()

    app.on_cleanup.append(shutdown_pool)
    return app
