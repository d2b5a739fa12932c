"""Serving the combined app: one event loop and one graceful shutdown for every way to run it.

``runserver``, ``python -m aiodjango`` and the gunicorn worker all call ``serve()``, so they stop
the same way. aiohttp's ``AppRunner.cleanup()`` gives the order: stop listening, close idle
keep-alive connections, run ``on_shutdown`` (open websockets are closed with 1001 there), wait
up to ``AIODJANGO_SHUTDOWN_TIMEOUT`` seconds for in-flight requests (Django views included),
cancel what is left, then run ``on_cleanup`` (the WSGI thread pool is shut down).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from aiohttp import web

from .conf import conf

__all__ = (
    "AppFactory",
    "Binder",
    "make_runner",
    "run",
    "serve",
    "socket_site",
    "tcp_site",
    "unix_site",
)

logger: Final = logging.getLogger("aiodjango.server")

Binder = Callable[[web.AppRunner], web.BaseSite]
"""Makes one listening site on a runner (a TCP address, a unix socket, an inherited socket)."""

AppFactory = Callable[[], Awaitable[web.Application]]
"""An async function returning the app, called on the serving loop (aiohttp's convention)."""


def tcp_site(host: str, port: int, *, reuse_port: bool | None = None) -> Binder:
    """A binder listening on ``host:port`` (port 0 picks a free port; see ``runner.addresses``)."""
    return lambda runner: web.TCPSite(runner, host, port, reuse_port=reuse_port)


def unix_site(path: str) -> Binder:
    """A binder listening on the unix socket at ``path``."""
    return lambda runner: web.UnixSite(runner, path)


def socket_site(sock: socket.socket, *, ssl_context: ssl.SSLContext | None = None) -> Binder:
    """A binder serving a socket someone else opened (gunicorn's master, systemd)."""
    return lambda runner: web.SockSite(runner, sock, ssl_context=ssl_context)


def make_runner(
    app: web.Application, *, shutdown_timeout: float | None = None, **kwargs: Any
) -> web.AppRunner:
    """An ``AppRunner`` whose drain time is ``AIODJANGO_SHUTDOWN_TIMEOUT`` unless given.

    Signals are ours to handle (``run()`` does it), so aiohttp's own handling is off.
    """
    if shutdown_timeout is None:
        shutdown_timeout = conf.SHUTDOWN_TIMEOUT
    return web.AppRunner(app, handle_signals=False, shutdown_timeout=shutdown_timeout, **kwargs)


async def serve(
    runner: web.AppRunner,
    binders: Sequence[Binder],
    until: Callable[[], Awaitable[object]],
    *,
    on_ready: Callable[[web.AppRunner], object] | None = None,
) -> None:
    """Start every site, call ``on_ready``, serve until ``until()`` returns, then shut down.

    Parameters:
        runner: from ``make_runner()``; set up here.
        binders: where to listen.
        until: awaited once the sites are up; returning starts the graceful shutdown.
        on_ready: called with the runner once every site listens (banner, gunicorn's booted).
    """
    await runner.setup()
    try:
        for bind in binders:
            await bind(runner).start()
        if on_ready is not None:
            on_ready(runner)
        await until()
        logger.info("Shutting down: no new connections; draining in-flight requests.")
    finally:
        await runner.cleanup()


def run(
    app: web.Application | AppFactory,
    binders: Sequence[Binder],
    *,
    on_ready: Callable[[web.AppRunner], object] | None = None,
    shutdown_timeout: float | None = None,
    **runner_kwargs: Any,
) -> None:
    """Serve ``app`` on a new event loop until SIGTERM or SIGINT, then shut down gracefully.

    ``app`` may be an async factory, awaited on that loop.
    A new loop each call, so it also works in the thread Django's autoreloader runs servers
    in. Signals can only be caught in the main thread; elsewhere the server runs until the
    process exits. A second signal during the shutdown is not caught: it stops at once.
    """

    async def main() -> None:
        stop = asyncio.Event()
        if threading.current_thread() is threading.main_thread():
            loop = asyncio.get_running_loop()

            def on_signal(signum: int) -> None:
                logger.info("Received %s.", signal.Signals(signum).name)
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
                stop.set()

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, on_signal, sig)
        application = app if isinstance(app, web.Application) else await app()
        runner = make_runner(application, shutdown_timeout=shutdown_timeout, **runner_kwargs)
        await serve(runner, binders, stop.wait, on_ready=on_ready)

    asyncio.run(main())
