"""``python -m aiodjango project.wsgi:app``: serve the combined app in production, no gunicorn.

One process, one event loop, aiohttp's ``AppRunner``. SIGTERM or SIGINT shut it down gracefully
(see ``aiodjango.server``) and it exits 0. Run one per core behind a proxy, or use gunicorn with
``aiodjango.workers.GunicornWorker`` to manage several.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import os
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web

from . import server
from .server import AppFactory

if TYPE_CHECKING:
    from .wsgi import WSGIApplication

__all__ = ("load_application", "main")

logger = logging.getLogger("aiodjango.server")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aiodjango",
        description="Serve a Django project and its async views with aiohttp.",
    )
    parser.add_argument(
        "target",
        help="module:attribute of the combined app (project.wsgi:app), of an async factory "
        "returning it, or of Django's WSGI application (wrapped with get_aio_application()).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on [127.0.0.1]")
    parser.add_argument("--port", type=int, default=8000, help="TCP port; 0 picks one [8000]")
    parser.add_argument("--unix-socket", metavar="PATH", help="listen on this unix socket instead")
    parser.add_argument("--settings", help="DJANGO_SETTINGS_MODULE to use")
    parser.add_argument(
        "--shutdown-timeout",
        type=float,
        help="seconds in-flight requests get on shutdown [AIODJANGO_SHUTDOWN_TIMEOUT, 30]",
    )
    parser.add_argument(
        "--access-log", action="store_true", help="log every request to stderr (aiohttp.access)"
    )
    return parser


def load_application(target: str) -> web.Application | AppFactory:
    """The app ``module:attribute`` names: an app, an async factory, or a wrapped WSGI app."""
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise SystemExit(
            f"Error: expected module:attribute (e.g. project.wsgi:app), got {target!r}"
        )
    module = importlib.import_module(module_name)
    try:
        obj: object = getattr(module, attribute)
    except AttributeError:
        raise SystemExit(f"Error: module {module_name!r} has no attribute {attribute!r}") from None
    if isinstance(obj, web.Application):
        return obj
    if inspect.iscoroutinefunction(obj):
        return cast(AppFactory, obj)
    if callable(obj):
        from .application import get_aio_application

        return get_aio_application(cast("WSGIApplication", obj))
    raise SystemExit(
        f"Error: {target!r} is {obj!r}; expected a web.Application, an async function returning "
        "one, or a WSGI application."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, serve until a signal, and return the exit status."""
    args = _parser().parse_args(argv)
    if args.settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(name)s: %(message)s")
    app = load_application(args.target)

    if args.unix_socket:
        binders = [server.unix_site(args.unix_socket)]
    else:
        binders = [server.tcp_site(args.host, args.port)]

    def ready(runner: web.AppRunner) -> None:
        for address in runner.addresses:
            if isinstance(address, tuple):
                host, port = address[0], address[1]
                url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
            else:
                url = f"unix:{address}"
            logger.info("Serving %s on %s (pid %d)", args.target, url, os.getpid())

    kwargs: dict[str, Any] = {}
    if not args.access_log:
        kwargs["access_log"] = None
    try:
        server.run(app, binders, on_ready=ready, shutdown_timeout=args.shutdown_timeout, **kwargs)
    except OSError as exc:
        logger.error("Cannot listen: %s", exc)
        return 1
    logger.info("Stopped.")
    return 0


def _exit(status: int) -> None:
    # A Django view still running after the shutdown timeout would hold the interpreter's exit
    # (it joins the WSGI pool's threads); the timeout is the promise, so leave without it.
    stuck = [
        t for t in threading.enumerate() if t.name.startswith("aiodjango-wsgi") and t.is_alive()
    ]
    if stuck:
        for thread in stuck:
            thread.join(0.5)
        if any(t.is_alive() for t in stuck):
            logger.warning("Exiting with Django requests still running after the timeout.")
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    _exit(main())
