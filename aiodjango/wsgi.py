"""The WSGI bridge: Django's WSGI app behind aiohttp, through aiohttp-wsgi, with its defects fixed.

This is the only module that imports ``aiohttp_wsgi``. Its ``WSGIHandler`` keeps the request-body
spooling and size limit; we replace what 0.10 gets wrong:

* ``PATH_INFO``/``SCRIPT_NAME`` carry the URL's bytes as latin-1 text (PEP 3333), so
  non-ASCII paths reach Django intact instead of garbled or as a 500;
* responses stream: a ``StreamingHttpResponse`` sends each chunk as it is produced, and a client
  that goes away stops the generator (it is closed) instead of being drained;
* ``wsgi.file_wrapper`` lets a ``FileResponse`` go out in blocks, never read whole into memory;
* Django runs in a thread pool of its own (``AIODJANGO_WSGI_THREADS``), not the loop's default
  executor, so aiohttp's own blocking work never queues behind slow views;
* header values are stripped (Django's ``Set-Cookie`` starts with a space) and repeated
  request headers keep Django's ``,`` joining except ``Cookie``, which uses ``;``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from typing import IO, Any, Final
from wsgiref.util import is_hop_by_hop

from aiohttp import web
from aiohttp_wsgi.wsgi import WSGIHandler

from .interop import Environ
from .interop import environ_for as _environ_for

__all__ = ("WSGIBridge", "WSGIApplication", "environ_for")

logger = logging.getLogger("aiodjango.wsgi")

StartResponse = Callable[[str, list[tuple[str, str]]], Callable[[bytes], None]]
WSGIApplication = Callable[[Environ, StartResponse], Iterable[bytes]]

FILE_BLOCK_SIZE: Final = 256 * 1024


class _FileWrapper:
    """``wsgi.file_wrapper``: reads a file in large blocks, lazily, on the pool's threads."""

    def __init__(self, filelike: IO[bytes], block_size: int = FILE_BLOCK_SIZE) -> None:
        self.filelike = filelike
        self.block_size = max(block_size, FILE_BLOCK_SIZE)

    def __iter__(self) -> Iterator[bytes]:
        while block := self.filelike.read(self.block_size):
            yield block

    def close(self) -> None:
        self.filelike.close()


class _ErrorStream:
    """``wsgi.errors`` writes to the ``aiodjango.wsgi`` logger instead of raw stderr."""

    def write(self, text: str) -> None:
        if text.strip():
            logger.error(text.rstrip())

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass


_ERRORS: Final = _ErrorStream()

# The bridge's environ: interop's, with this module's wsgi.errors and wsgi.file_wrapper.
environ_for: Final = functools.partial(
    _environ_for, extra={"wsgi.errors": _ERRORS, "wsgi.file_wrapper": _FileWrapper}
)


_Started = tuple[int, str, list[tuple[str, str]], list[bytes], Iterator[bytes] | None, object]


def _start(application: WSGIApplication, environ: Environ) -> _Started:
    """Runs in a pool thread: calls the app and takes its body, or its first chunk if streaming."""
    status: list[str] = []
    headers: list[tuple[str, str]] = []

    def start_response(
        line: str, response_headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], None]:
        status[:] = [line]
        headers[:] = response_headers
        return written.append

    written: list[bytes] = []
    result = application(environ, start_response)
    try:
        if getattr(result, "streaming", None) is False or isinstance(result, list | tuple):
            chunks, iterator = [*written, *result], None
        else:
            iterator = iter(result)
            first = next(iterator, None)
            chunks = [*written, *([first] if first is not None else [])]
    except BaseException:
        _close(result)
        raise
    if iterator is None:
        _close(result)
    if not status:
        raise RuntimeError(f"The WSGI application {application!r} did not call start_response().")
    code, _, reason = status[0].partition(" ")
    clean = [(k, v.strip()) for k, v in headers if not is_hop_by_hop(k)]
    return int(code), reason, clean, chunks, iterator, result


def _next_chunk(iterator: Iterator[bytes]) -> bytes | None:
    return next(iterator, None)


def _close(result: object) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


class WSGIBridge(WSGIHandler):
    """aiohttp-wsgi's handler with the fixes above; ``handle_request`` is the aiohttp handler."""

    def __init__(
        self, application: WSGIApplication, *, threads: int, max_request_body_size: int
    ) -> None:
        self.pool: Final = ThreadPoolExecutor(threads, thread_name_prefix="aiodjango-wsgi")
        super().__init__(
            application, executor=self.pool, max_request_body_size=max_request_body_size
        )

    # Upstream returns a Response; a streamed one is a StreamResponse, which aiohttp accepts.
    async def handle_request(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        limit = self._max_request_body_size
        if request.content_length is not None and request.content_length > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
        if not request.can_read_body:  # most GETs: no spooled file, no read loop
            return await self._respond(
                request, environ_for(request, BytesIO(), 0, executor=self.pool)
            )
        with self._body_io() as body:
            length = 0
            while block := await request.content.readany():
                length += len(block)
                if length > limit:
                    raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=length)
                body.write(block)
            body.seek(0)
            environ = environ_for(request, body, length, executor=self.pool)
            return await self._respond(request, environ)

    async def _respond(self, request: web.Request, environ: Environ) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        code, reason, headers, chunks, iterator, result = await loop.run_in_executor(
            self.pool, _start, self._application, environ
        )
        if iterator is None:
            return web.Response(status=code, reason=reason, headers=headers, body=b"".join(chunks))
        try:
            response = web.StreamResponse(status=code, reason=reason, headers=headers)
            await response.prepare(request)
            for chunk in chunks:
                await response.write(chunk)
            while True:
                more: bytes | None = await loop.run_in_executor(self.pool, _next_chunk, iterator)
                if more is None:
                    break
                await response.write(more)  # raises once the client has gone
            await response.write_eof()
            return response
        finally:
            # Closing stops a generator that is still running (client gone) and lets Django
            # send request_finished, on a pool thread like the rest of the request.
            await asyncio.shield(loop.run_in_executor(self.pool, _close, result))
