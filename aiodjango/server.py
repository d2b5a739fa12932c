"""Serving the combined app: one event loop and one graceful shutdown for every way to run it.

``runserver``, ``python -m aiodjango`` and the gunicorn worker all call ``serve()``, so they serve
and stop the same way. The runner ``make_runner()`` builds cancels a handler whose client left
(aiohttp's ``handler_cancellation``) and closes a connection idle, or still sending its request
headers, after ``AIODJANGO_KEEPALIVE_TIMEOUT`` seconds (aiohttp's ``AppRunner`` would wait 3,630).
While serving, log handlers run off the loop (``aiodjango.log``), and the objects that start-up
made are moved out of the garbage collector's sight (``gc.freeze()``).

aiohttp's ``AppRunner.cleanup()`` gives the shutdown order: stop listening, close idle
keep-alive connections, run ``on_shutdown`` (open websockets are closed with 1001 there), wait
up to ``AIODJANGO_SHUTDOWN_TIMEOUT`` seconds for in-flight requests (Django views included),
cancel what is left, then run ``on_cleanup`` (the WSGI thread pool is shut down). The whole of it
has a hard deadline, the timeout plus ``CLEANUP_GRACE``; past it, and for Django views still
running on their threads, ``exit_process()`` leaves without waiting.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, NoReturn

from aiohttp import web

from .conf import conf
from .log import client_errors_as_info, deferred_logging, flush_deferred
from .wsgi import POOL_THREAD_PREFIX

__all__ = (
    "CLEANUP_GRACE",
    "AppFactory",
    "Binder",
    "close_loop",
    "exit_process",
    "leave_if_stuck",
    "make_runner",
    "run",
    "serve",
    "socket_site",
    "tcp_site",
    "unix_site",
)

logger: Final = logging.getLogger("aiodjango.server")

CLEANUP_GRACE: Final = 1.0
"""Seconds beyond the shutdown timeout for cancelling what is left and running ``on_cleanup``."""

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


class _Runner(web.AppRunner):
    """An ``AppRunner`` that remembers its drain time, for ``serve()``'s hard deadline."""

    def __init__(self, app: web.Application, *, shutdown_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, shutdown_timeout=shutdown_timeout, **kwargs)
        self.drain_timeout: Final = shutdown_timeout


def make_runner(
    app: web.Application, *, shutdown_timeout: float | None = None, **kwargs: Any
) -> web.AppRunner:
    """An ``AppRunner`` with aiodjango's serving defaults; ``kwargs`` go to aiohttp's ``Server``.

    The drain time is ``AIODJANGO_SHUTDOWN_TIMEOUT`` and the keep-alive (and header) timeout
    ``AIODJANGO_KEEPALIVE_TIMEOUT`` unless given; handlers are cancelled when their client
    leaves. Signals are ours to handle (``run()`` does it), so aiohttp's own handling is off.
    """
    if shutdown_timeout is None:
        shutdown_timeout = conf.SHUTDOWN_TIMEOUT
    kwargs.setdefault("keepalive_timeout", conf.KEEPALIVE_TIMEOUT)
    kwargs.setdefault("handler_cancellation", True)
    return _Runner(app, handle_signals=False, shutdown_timeout=shutdown_timeout, **kwargs)


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
    drain = getattr(runner, "drain_timeout", conf.SHUTDOWN_TIMEOUT)
    with deferred_logging(), client_errors_as_info():
        await runner.setup()
        try:
            for bind in binders:
                await bind(runner).start()
            # What start-up built (Django, the URLconf, the app) lives as long as the process:
            # the collector need not walk it again on every full collection.
            gc.collect()
            gc.freeze()
            if on_ready is not None:
                on_ready(runner)
            await until()
            logger.info("Shutting down: no new connections; draining in-flight requests.")
        finally:
            try:
                async with asyncio.timeout(drain + CLEANUP_GRACE):
                    await runner.cleanup()
            except TimeoutError:
                logger.warning(
                    "Shutdown overran its %.1f s deadline; leaving what still runs.",
                    drain + CLEANUP_GRACE,
                )


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
    Unlike ``asyncio.run()``, closing the loop waits for no thread (see ``exit_process()``).
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

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(main())
    finally:
        close_loop(loop)


def close_loop(loop: asyncio.AbstractEventLoop, timeout: float = CLEANUP_GRACE) -> None:
    """Cancel the tasks left on ``loop`` and close it, waiting ``timeout`` at most for them.

    ``asyncio.run()`` would wait without a limit for stubborn tasks and for the default
    executor's threads (a stuck ``to_thread()`` call holds the exit forever).
    """
    try:
        tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.wait(tasks, timeout=timeout))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()  # shuts the default executor down without joining its threads


def exit_process(status: int) -> NoReturn:
    """Exit with ``status``, at once even if Django views still run (see ``leave_if_stuck()``)."""
    leave_if_stuck(status)
    sys.exit(status)


def leave_if_stuck(status: int, *, join_timeout: float = 0.5) -> None:
    """If threads still run after the shutdown (Django views past the timeout), exit now.

    Threads that are only winding down get ``join_timeout`` seconds in all, not each. The
    interpreter's normal exit would join every remaining non-daemon thread, however long its
    view takes; the shutdown timeout is the promise, so then the logs are flushed and the
    process leaves with ``os._exit``. Returns if nothing is stuck.
    """
    deadline = time.monotonic() + join_timeout
    # The exit joins non-daemon threads, and every executor's threads, daemon or not (pool
    # threads started from a daemon thread, as under the autoreloader, are daemons).
    waiting = [
        thread
        for thread in threading.enumerate()
        if thread is not threading.current_thread()
        and (not thread.daemon or thread.name.startswith(POOL_THREAD_PREFIX))
    ]
    for thread in waiting:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [thread for thread in waiting if thread.is_alive()]
    if not stuck:
        return
    views = sum(thread.name.startswith(POOL_THREAD_PREFIX) for thread in stuck)
    logger.warning(
        "Exiting with %d Django request(s) still running after the timeout (%d thread(s) in all).",
        views,
        len(stuck),
    )
    flush_deferred()  # this warning too, if the logging thread has it
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
