"""``manage.py runserver`` serving the combined aiohttp app: Django views, async views, websockets.

It is Django's own command (staticfiles' when that app is installed) with the serving part
replaced, so ``addrport``, ``--ipv6``, ``--noreload``, ``--nothreading``, ``--insecure``,
``--nostatic`` and the autoreloader behave as they do in Django. ``aiodjango`` must be listed
above ``django.contrib.staticfiles`` in ``INSTALLED_APPS`` for this command to win (check W002).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import posixpath
import sys
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from django.apps import apps
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.db import connections
from django.utils import autoreload
from django.utils.version import get_docs_version

from aiodjango import server
from aiodjango.application import BRIDGE_KEY, get_aio_application
from aiodjango.conf import conf
from aiodjango.loading import load_application
from aiodjango.log import flush_deferred
from aiodjango.server import AppFactory

if TYPE_CHECKING:
    from django.core.management.commands.runserver import Command as BaseRunserver

    from aiodjango.wsgi import WSGIApplication
elif apps.is_installed("django.contrib.staticfiles"):
    from django.contrib.staticfiles.management.commands.runserver import Command as BaseRunserver
else:
    from django.core.management.commands.runserver import Command as BaseRunserver

__all__ = ("Command",)

_ERRORS = {
    errno.EACCES: "You don't have permission to access that port.",
    errno.EADDRINUSE: "That port is already in use.",
    errno.EADDRNOTAVAIL: "That IP address can't be assigned to.",
}


class Command(BaseRunserver):
    """Django's ``runserver`` with aiohttp doing the serving."""

    help = "Starts the aiodjango development server: Django views, async views and websockets."

    # Set by Django's handle(); django-stubs does not declare them.
    addr: str
    port: str
    use_ipv6: bool
    _raw_ipv6: bool

    def get_handler(  # type: ignore[override]
        self, *args: Any, **options: Any
    ) -> web.Application | AppFactory:
        """The app to serve: ``AIODJANGO_APPLICATION``, or one built from ``WSGI_APPLICATION``.

        ``AIODJANGO_APPLICATION`` is loaded as ``python -m aiodjango`` loads its target
        (``aiodjango.loading``). Otherwise the WSGI app comes from Django's command, so in
        DEBUG (or with ``--insecure``) it is wrapped in staticfiles' handler and static files
        are found through the finders. ``--nothreading`` gives Django views a single thread.
        """
        threads = None if options.get("use_threading", True) else 1
        target = conf.APPLICATION
        if target is None:
            wsgi_app = cast("WSGIApplication", super().get_handler(*args, **options))
            return get_aio_application(wsgi_app, wsgi_threads=threads)
        app = load_application(target, wsgi_threads=threads)
        if not self._serves_static(options):
            return app
        middleware = _static_middleware(settings.STATIC_URL)
        if isinstance(app, web.Application):
            app.middlewares.insert(0, middleware)
            return app
        factory = app

        async def with_static() -> web.Application:
            built = await factory()
            built.middlewares.insert(0, middleware)
            return built

        return with_static

    def _serves_static(self, options: dict[str, Any]) -> bool:
        if not apps.is_installed("django.contrib.staticfiles") or not settings.STATIC_URL:
            return False
        wanted = options.get("use_static_handler", True)
        return bool(wanted and (settings.DEBUG or options.get("insecure_serving")))

    def run(self, **options: Any) -> None:
        """Django's ``run()``; in the autoreloader's child a reload or a stop leaves at once.

        The reloader ends the child with ``sys.exit()`` on a file change (or SIGTERM), and the
        interpreter would then join every thread running a Django view, however long it takes:
        a stuck view would hold up every reload. Django's own runserver runs views in daemon
        threads and so never waits; here the pool is shut down and ``leave_if_stuck()`` exits
        within half a second if a view is still running.
        """
        child = options.get("use_reloader") and os.environ.get(autoreload.DJANGO_AUTORELOAD_ENV)
        if child != "true":
            super().run(**options)
            return
        status = 0
        try:
            super().run(**options)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
            raise
        finally:
            app = self._served
            bridge = app.get(BRIDGE_KEY) if app is not None else None
            if bridge is not None:
                bridge.shut_down()
            server.leave_if_stuck(status)
            flush_deferred()  # "changed, reloading." is queued for the logging thread

    _served: web.Application | None = None  # what inner_run() serves, once it is bound

    def inner_run(self, *args: Any, **options: Any) -> None:
        """Checks, migrations check, then serve on a new event loop until stopped.

        Under the autoreloader this runs in a thread of the child process, so the loop is
        created here; the reloader restarts the whole process when a file changes.
        """
        autoreload.raise_last_exception()
        if not options["skip_checks"]:
            self.stdout.write("Performing system checks...\n\n")
            self.check(display_num_errors=True)  # every tag, as Django's runserver does
        self.check_migrations()
        for conn in connections.all(initialized_only=True):
            conn.close()

        app = self.get_handler(*args, **options)
        runner_kwargs: dict[str, Any] = {
            "access_log": logging.getLogger("django.server"),
            "access_log_format": '"%r" %s %b',
        }
        try:
            server.run(
                app,
                [server.tcp_site(self.addr, int(self.port))],
                on_ready=self._on_ready,
                **runner_kwargs,
            )
        except OSError as exc:
            self.stderr.write(f"Error: {_ERRORS.get(exc.errno or 0, exc)}")
            # sys.exit() would only end this thread when the autoreloader runs us.
            os._exit(1)
        shutdown_message = options.get("shutdown_message", "")
        if shutdown_message:
            self.stdout.write(shutdown_message)
        if threading.current_thread() is threading.main_thread():  # --noreload
            server.leave_if_stuck(0)  # else the interpreter would wait for stuck views

    def _on_ready(self, runner: web.AppRunner) -> None:
        self._served = runner.app
        self.on_bind(_bound_port(runner, int(self.port)))

    def on_bind(self, server_port: int) -> None:
        """Print the banner, as Django's runserver does, naming what serves what."""
        quit_command = "CTRL-BREAK" if sys.platform == "win32" else "CONTROL-C"
        if self._raw_ipv6:
            addr = f"[{self.addr}]"
        elif self.addr == "0":
            addr = "0.0.0.0"
        else:
            addr = self.addr
        now = datetime.now().strftime("%B %d, %Y - %X")
        self.stdout.write(
            f"{now}\n"
            f"Django version {self.get_version()}, using settings {settings.SETTINGS_MODULE!r}\n"
            f"Starting aiodjango development server at {self.protocol}://{addr}:{server_port}/\n"
            f"Async views and websockets on aiohttp {aiohttp.__version__}; "
            f"Django views in a thread pool.\n"
            f"Quit the server with {quit_command}."
        )
        if os.environ.get("DJANGO_RUNSERVER_HIDE_WARNING") != "true":
            self.stdout.write(
                self.style.WARNING(
                    "WARNING: This is a development server. Do not use it in a production "
                    "setting. Use `python -m aiodjango` or gunicorn with "
                    "aiodjango.workers.GunicornWorker instead.\nFor more information on "
                    f"production servers see: https://docs.djangoproject.com/en/"
                    f"{get_docs_version()}/howto/deployment/"
                )
            )


def _bound_port(runner: web.AppRunner, default: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return default


def _static_middleware(static_url: str) -> Middleware:
    """Serves ``STATIC_URL`` through the staticfiles finders, for an ``AIODJANGO_APPLICATION``."""
    from django.contrib.staticfiles import finders

    prefix = urlsplit(static_url).path

    def find(path: str) -> str | None:
        relative = posixpath.normpath(path).lstrip("/")  # request.path is already decoded
        try:
            found = finders.find(relative)
        except SuspiciousFileOperation:
            return None
        return found if isinstance(found, str) else None

    @web.middleware
    async def serve_static(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in ("GET", "HEAD") and request.path.startswith(prefix):
            found = await asyncio.to_thread(find, request.path[len(prefix) :])
            if found is not None:
                return web.FileResponse(found)
        return await handler(request)

    return serve_static
