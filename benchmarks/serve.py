"""Starts one aiohttp-based server of the comparison: ``python -m benchmarks.serve KIND PORT``.

* ``aiodjango``: the full app, ``get_aio_application()`` over the project (``BENCH_URLCONF``);
* ``aiohttp``: bare aiohttp handlers, the physical limit (hello and websocket echo);
* ``aiohttp-in-django``: the bare aiohttp app in a process that has set Django up (and
  imported aiodjango), a diagnostic row: what a big process costs aiohttp's own code;
* ``aiohttp-wsgi``: Django's WSGI app behind bare aiohttp-wsgi, ``BENCH_THREADS`` threads.

``BENCH_GC_FREEZE=1`` moves every object alive after start-up into the garbage collector's
permanent generation (``gc.freeze()``), so collections stop walking Django's objects: a
diagnostic row that shows what that is worth.

Every server runs on aiohttp's default asyncio loop with no access log, as uvicorn and daphne
are run by the runner.
"""

from __future__ import annotations

import gc
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

HELLO = b"Hello, World!"


async def hello(request: web.Request) -> web.Response:
    """Bare aiohttp hello."""
    return web.Response(body=HELLO, content_type="text/plain")


async def echo(request: web.Request) -> web.WebSocketResponse:
    """Bare aiohttp websocket echo."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(msg.data)
    return ws


def build(kind: str) -> web.Application:
    """The aiohttp application for ``kind``."""
    if kind == "aiohttp":
        app = web.Application()
        app.router.add_get("/hello/", hello)
        app.router.add_get("/ws/echo/", echo)
        return app
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.project.settings")
    import django

    django.setup()
    if kind == "aiohttp-in-django":
        import aiodjango.application  # noqa: F401 - loaded as in the aiodjango row

        return build("aiohttp")
    if kind == "aiodjango":
        from aiodjango.application import get_aio_application

        return get_aio_application()
    if kind == "aiohttp-wsgi":
        from aiohttp_wsgi import WSGIHandler
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application

        pool = ThreadPoolExecutor(settings.BENCH_THREADS)
        handler = WSGIHandler(get_wsgi_application(), executor=pool)
        app = web.Application()
        app.router.add_route("*", "/{path_info:.*}", handler)
        return app
    raise SystemExit(f"unknown server kind {kind!r}")


def main() -> None:
    """Serve ``argv[1]`` on 127.0.0.1:``argv[2]`` until terminated."""
    kind, port = sys.argv[1], int(sys.argv[2])
    app = build(kind)
    if os.environ.get("BENCH_GC_FREEZE"):
        gc.collect()
        gc.freeze()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
