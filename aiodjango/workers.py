"""The gunicorn worker: ``gunicorn project.wsgi:app -k aiodjango.workers.GunicornWorker``.

It is aiohttp's ``GunicornWebWorker`` with two changes. It boots without warnings on Python
3.12+ (aiohttp's calls ``asyncio.get_event_loop()`` with no loop set, a DeprecationWarning that
stops every worker under ``-W error::DeprecationWarning``). And it serves through
``aiodjango.server.serve()``, so SIGTERM drains like ``python -m aiodjango``: stop accepting,
websockets closed with 1001, in-flight requests get ``AIODJANGO_SHUTDOWN_TIMEOUT`` seconds
(capped below gunicorn's ``--graceful-timeout``, after which the master kills the worker).

The target is loaded by ``aiodjango.loading``, as ``python -m aiodjango`` and runserver load
theirs: the combined ``web.Application``, a factory returning one (an async one is awaited in
each worker, aiohttp's convention), or Django's WSGI ``application``, then wrapped with
``get_aio_application()``; as ``module:attribute`` or ``module.attribute``. A wrong target stops
gunicorn with the loader's message ("App failed to load"), not an endless respawn.

Connections follow ``AIODJANGO_KEEPALIVE_TIMEOUT``, not gunicorn's ``--keep-alive``, so every
entry point has the same idle and header timeout.
"""

from __future__ import annotations

import asyncio
import os
from types import FrameType

from aiohttp import web
from aiohttp.worker import GunicornWebWorker
from django.core.exceptions import ImproperlyConfigured
from gunicorn.errors import AppImportError
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

    def load_wsgi(self) -> None:
        """Load the target with aiodjango's loader (gunicorn's knows no factories, no dots)."""
        from .loading import as_application, load_application  # imports Django, post-fork

        target = self.app.app_uri
        try:
            if self.cfg.preload_app:  # the master has imported it already (gunicorn's rules)
                self.wsgi = as_application(target, self.app.wsgi())
            else:
                self.wsgi = load_application(target)
        except ImproperlyConfigured as exc:
            raise AppImportError(str(exc)) from exc

    def run(self) -> None:
        """Serve until gunicorn asks us to stop, then exit with ``exit_code``."""
        # base.Worker sets booted before run(); the real boot (app, sockets) happens in _serve,
        # and the arbiter must tell a failed boot from a clean exit.
        self.booted = False
        try:
            self.loop.run_until_complete(self._serve())
        finally:
            server.close_loop(self.loop)
        server.exit_process(self.exit_code)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """SIGTERM: start the graceful shutdown now, not at the next heartbeat."""
        self.alive = False
        self._notify_waiter_done()

    async def _application(self) -> web.Application:
        target = self.wsgi
        if isinstance(target, web.Application):
            return target
        return await target()  # the loader's async factory, which checks what it returns

    async def _serve(self) -> None:
        try:
            app = await self._application()
        except ImproperlyConfigured as exc:
            raise AppImportError(str(exc)) from exc
        runner = server.make_runner(
            app,
            shutdown_timeout=min(conf.SHUTDOWN_TIMEOUT, self.cfg.graceful_timeout * 0.95),
            logger=self.log,
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
