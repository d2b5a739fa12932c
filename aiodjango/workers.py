"""The gunicorn worker: ``gunicorn project.wsgi:app -k aiodjango.workers.GunicornWorker``.

It is aiohttp's ``GunicornWebWorker`` with two changes. It boots without warnings on Python
3.12+ (aiohttp's calls ``asyncio.get_event_loop()`` with no loop set, a DeprecationWarning that
stops every worker under ``-W error::DeprecationWarning``). And it serves through
``aiodjango.server.serve()``, so SIGTERM drains like ``python -m aiodjango``: stop accepting,
websockets closed with 1001, in-flight requests get ``AIODJANGO_SHUTDOWN_TIMEOUT`` seconds
(capped below gunicorn's ``--graceful-timeout``, after which the master kills the worker).

The target may be the combined ``web.Application``, an async factory returning one (aiohttp's
convention), or Django's WSGI ``application``, which is then wrapped with
``get_aio_application()``.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
from types import FrameType
from typing import Any

from aiohttp import web
from aiohttp.worker import GunicornWebWorker
from gunicorn.workers import base

from . import server
from .conf import conf

__all__ = ("GunicornWorker",)


class GunicornWorker(GunicornWebWorker):
    """aiohttp's gunicorn worker, warning-free on 3.12+ and with aiodjango's graceful shutdown."""

    def init_process(self) -> None:
        """Give the forked worker a fresh event loop, without ``get_event_loop()``."""
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        # Skip GunicornWebWorker.init_process: it only adds the deprecated get_event_loop().
        base.Worker.init_process(self)

    def run(self) -> None:
        """Serve until gunicorn asks us to stop, then exit with ``exit_code``."""
        # base.Worker sets booted before run(); the real boot (app, sockets) happens in _serve,
        # and the arbiter must tell a failed boot from a clean exit.
        self.booted = False
        try:
            self.loop.run_until_complete(self._serve())
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()
        sys.exit(self.exit_code)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """SIGTERM: start the graceful shutdown now, not at the next heartbeat."""
        self.alive = False
        self._notify_waiter_done()

    async def _application(self) -> web.Application:
        target: Any = self.wsgi
        if inspect.iscoroutinefunction(target):
            target = await target()
            if not isinstance(target, web.Application):
                raise RuntimeError(
                    "aiodjango.workers.GunicornWorker: the factory must return a "
                    f"web.Application (the worker makes the AppRunner), got {target!r}."
                )
        if isinstance(target, web.Application):
            return target
        from .application import get_aio_application

        return get_aio_application(target)  # gunicorn has checked it is callable

    async def _serve(self) -> None:
        app = await self._application()
        runner = server.make_runner(
            app,
            shutdown_timeout=min(conf.SHUTDOWN_TIMEOUT, self.cfg.graceful_timeout * 0.95),
            logger=self.log,
            keepalive_timeout=self.cfg.keepalive,
            access_log=self.log.access_log if self.cfg.accesslog else None,
            access_log_format=self._get_valid_log_format(self.cfg.access_log_format),
        )
        ssl_context = self._create_ssl_context(self.cfg) if self.cfg.is_ssl else None
        binders = [server.socket_site(sock, ssl_context=ssl_context) for sock in self.sockets]

        async def heartbeat() -> None:
            # Tell the arbiter we are alive about once a second until a signal, max_requests
            # or a new parent (the master died) ends the loop.
            pid = os.getpid()
            while self.alive:
                self.notify()
                assert runner.server is not None
                if self.max_requests and runner.server.requests_count > self.max_requests:
                    self.alive = False
                    self.log.info("Max requests, shutting down: %s", self)
                elif pid == os.getpid() and self.ppid != os.getppid():
                    self.alive = False
                    self.log.info("Parent changed, shutting down: %s", self)
                else:
                    await self._wait_next_notify()

        def ready(runner: web.AppRunner) -> None:
            self.booted = True

        await server.serve(runner, binders, heartbeat, on_ready=ready)
