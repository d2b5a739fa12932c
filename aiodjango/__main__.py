"""``python -m aiodjango project.wsgi:app``: serve the combined app in production, no gunicorn.

One process, one event loop, aiohttp's ``AppRunner``. SIGTERM or SIGINT shut it down gracefully
(see ``aiodjango.server``) and it exits 0. Run one per core behind a proxy, or use gunicorn with
``aiodjango.workers.GunicornWorker`` to manage several.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from django.core.exceptions import ImproperlyConfigured

from . import server

__all__ = ("main",)

logger = logging.getLogger("aiodjango.server")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aiodjango",
        description="Serve a Django project and its async views with aiohttp.",
    )
    parser.add_argument(
        "target",
        help="module:attribute or module.attribute of the combined app (project.wsgi:app), of "
        "a factory returning it, or of Django's WSGI application (wrapped with "
        "get_aio_application()); see aiodjango.loading.",
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


def _log_to_stderr() -> None:
    """Show aiodjango's and aiohttp's INFO records, unless the project's LOGGING already does.

    A handler on the root logger as well as the project's own (the demo's ``"aiodjango"``
    console handler) would print each line twice.
    """
    handler: logging.Handler | None = None
    for name in ("aiodjango", "aiohttp"):
        found = logging.getLogger(name)
        if found.hasHandlers():
            continue
        if handler is None:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("[%(asctime)s] %(name)s: %(message)s"))
        found.addHandler(handler)
        if found.level == logging.NOTSET:
            found.setLevel(logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, serve until a signal, and return the exit status."""
    args = _parser().parse_args(argv)
    if args.settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = args.settings
    from .loading import load_application  # imports Django: after --settings is in place

    try:
        app = load_application(args.target)
    except ImproperlyConfigured as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    _log_to_stderr()

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
    except ImproperlyConfigured as exc:  # an async factory returned something else
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    logger.info("Stopped.")
    return 0


if __name__ == "__main__":
    server.exit_process(main())
