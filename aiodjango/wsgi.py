"""The WSGI bridge: Django's WSGI app behind aiohttp, through aiohttp-wsgi, with its defects fixed.

This is the only module that imports ``aiohttp_wsgi``. Its ``WSGIHandler`` keeps the request-body
spooling (in memory up to ``FILE_UPLOAD_MAX_MEMORY_SIZE``, then a temporary file); we replace
what 0.10 gets wrong:

* ``PATH_INFO``/``SCRIPT_NAME`` carry the URL's bytes as latin-1 text (PEP 3333), so
  non-ASCII paths reach Django intact instead of garbled or as a 500;
* responses stream: a ``StreamingHttpResponse`` sends each chunk as it is produced, and a client
  that goes away stops the generator (it is closed) instead of being drained;
* ``wsgi.file_wrapper`` lets a ``FileResponse`` go out in blocks, never read whole into memory;
* Django runs in a thread pool of its own (``AIODJANGO_WSGI_THREADS``), not the loop's default
  executor, so aiohttp's own blocking work never queues behind slow views;
* bodies are bounded by Django's limits, checked before and while they stream in (413, and no
  ``100 Continue`` for a body that will be refused), and the pool's queue is bounded (503);
* header values are stripped (Django's ``Set-Cookie`` starts with a space) and repeated
  request headers keep Django's ``,`` joining except ``Cookie``, which uses ``;``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from contextlib import suppress
from io import BytesIO
from typing import IO, Any, Final, NoReturn
from wsgiref.util import is_hop_by_hop

from aiohttp import web
from aiohttp_wsgi.wsgi import WSGIHandler
from django.conf import settings

from .conf import conf
from .interop import Environ, continue_or_refuse
from .interop import environ_for as _environ_for

__all__ = ("POOL_THREAD_PREFIX", "WSGIApplication", "WSGIBridge", "environ_for")

logger = logging.getLogger("aiodjango.wsgi")

StartResponse = Callable[[str, list[tuple[str, str]]], Callable[[bytes], None]]
WSGIApplication = Callable[[Environ, StartResponse], Iterable[bytes]]

FILE_BLOCK_SIZE: Final = 256 * 1024
POOL_THREAD_PREFIX: Final = "aiodjango-wsgi"
"""Names of the threads Django runs on (``python -m aiodjango`` counts the stuck ones at exit)."""

_CLIENT_CLOSED: Final = (
    499  # nginx's status for "the client left first"; only the access log sees it
)
_REFUSAL_LOG_INTERVAL: Final = 10.0
_PUMP_CHECK: Final = 1.0  # seconds: how often a streaming thread checks that the loop lives


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


def _close(result: object) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


class WSGIBridge(WSGIHandler):
    """aiohttp-wsgi's handler with the fixes above; ``handle_request`` is the aiohttp handler.

    It also bounds what a Django request may cost before Django runs: the body is refused with
    413 past ``max_request_body_size`` (``max_upload_size`` for ``multipart/form-data``), from
    ``Content-Length`` or while it streams in; and when every thread is busy, at most
    ``queue_size`` requests wait, each for ``queue_timeout`` seconds, before a 503 with
    ``Retry-After``. A request whose client left while it waited never runs. A body that
    stops arriving for ``body_timeout`` seconds (``AIODJANGO_KEEPALIVE_TIMEOUT``) gets 408.
    """

    def __init__(
        self,
        application: WSGIApplication,
        *,
        threads: int,
        max_request_body_size: int,
        max_upload_size: int | None = None,
        queue_size: int | None = None,
        queue_timeout: float | None = None,
        body_timeout: float | None = None,
    ) -> None:
        self.pool: Final = ThreadPoolExecutor(threads, thread_name_prefix=POOL_THREAD_PREFIX)
        self.max_upload_size: Final = (
            conf.WSGI_MAX_UPLOAD_SIZE if max_upload_size is None else max_upload_size
        )
        super().__init__(
            application,
            executor=self.pool,
            max_request_body_size=max_request_body_size,
            # Django's semantics: uploads stay in memory up to this size, then go to a file.
            inbuf_overflow=settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
        )
        self.body_timeout: Final = conf.KEEPALIVE_TIMEOUT if body_timeout is None else body_timeout
        self.queue_size: Final = conf.WSGI_QUEUE_SIZE if queue_size is None else queue_size
        self.queue_timeout: Final = (
            conf.WSGI_QUEUE_TIMEOUT if queue_timeout is None else queue_timeout
        )
        self._threads: Final = threads
        self._pending = 0  # requests on a pool thread or queued for one
        self._queued: deque[_Wait] = deque()  # those that found every thread busy, oldest first
        self._expiry: asyncio.TimerHandle | None = None
        self._refused = 0
        self._refused_logged_at = -_REFUSAL_LOG_INTERVAL

    def _limit_for(self, request: web.BaseRequest) -> int:
        if request.content_type == "multipart/form-data":
            return self.max_upload_size
        return self._max_request_body_size

    async def handle_expect(self, request: web.Request) -> None:
        """The fallback route's expect handler: 413 before ``100`` (``continue_or_refuse``)."""
        await continue_or_refuse(request, self._limit_for(request))

    def _check_length(self, request: web.BaseRequest) -> None:
        length = request.content_length
        if length is not None and length > (limit := self._limit_for(request)):
            self._too_large(limit, length)

    @staticmethod
    def _too_large(limit: int, size: int) -> NoReturn:
        error = web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
        error.force_close()  # the rest of the body is not wanted on this connection
        raise error

    # Upstream returns a Response; a streamed one is a StreamResponse, which aiohttp accepts.
    async def handle_request(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        try:
            self._check_length(request)
            if not request.can_read_body:  # most GETs: no spooled file, no read loop
                return await self._run(
                    request, environ_for(request, BytesIO(), 0, executor=self.pool)
                )
            limit = self._limit_for(request)
            with self._body_io() as body:
                length = 0
                while block := await self._read_block(request):
                    length += len(block)
                    if length > limit:
                        self._too_large(limit, length)
                    body.write(block)
                body.seek(0)
                environ = environ_for(request, body, length, executor=self.pool)
                return await self._run(request, environ)
        except ConnectionError:
            # The client left (mid-body or mid-response): an ordinary end, not a server error.
            logger.debug("Client left during %s %s", request.method, request.path)
            return web.Response(status=_CLIENT_CLOSED, reason="Client Closed Request")

    async def _read_block(self, request: web.Request) -> bytes:
        """The next part of the body; 408 if the client pauses longer than the keep-alive."""
        try:
            async with asyncio.timeout(self.body_timeout):
                return await request.content.readany()
        except TimeoutError:
            error = web.HTTPRequestTimeout(text="The request body stopped arriving.")
            error.force_close()
            raise error from None

    def shut_down(self) -> None:
        """Stop the pool without waiting: queued requests are dropped, idle threads end now,
        a running view's thread ends when the view returns."""
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _release(self) -> None:
        self._pending -= 1

    def _release_threadsafe(self, loop: asyncio.AbstractEventLoop) -> Callable[[object], None]:
        def release(_: object) -> None:
            with suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(self._release)

        return release

    def _busy(self, request: web.Request) -> web.Response:
        self._refused += 1
        now = asyncio.get_running_loop().time()
        if now - self._refused_logged_at >= _REFUSAL_LOG_INTERVAL:
            logger.warning(
                "Django's thread pool is saturated: %d request(s) refused with 503 so far "
                "(see AIODJANGO_WSGI_THREADS and AIODJANGO_WSGI_QUEUE_*).",
                self._refused,
            )
            self._refused_logged_at = now
        retry_after = max(1, math.ceil(self.queue_timeout))
        return web.Response(
            status=503,
            text="Server busy: every Django thread is in use. Retry later.\n",
            headers={"Retry-After": str(retry_after)},
        )

    async def _run(self, request: web.Request, environ: Environ) -> web.StreamResponse:
        """Run the request on a pool thread, which is its own until the response has gone out.

        Waiting requests queue in the pool itself, so a thread that finishes one request takes
        the next at once, without a round trip through the loop.
        """
        if self._pending >= self._threads + self.queue_size:
            return self._busy(request)
        loop = asyncio.get_running_loop()
        self._pending += 1
        running = self.pool.submit(_serve, self._application, environ, request, loop)
        wait = self._wait_for_thread(running, loop) if self._pending > self._threads else None
        try:
            served = await asyncio.wrap_future(running, loop=loop)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if wait is not None and wait.expired and task is not None and not task.cancelling():
                return self._busy(request)
            raise
        finally:
            if running.done():
                self._release()
            else:  # cancelled while Django runs: the thread is busy until it returns
                running.add_done_callback(self._release_threadsafe(loop))
        if served is None:  # it waited, and its client left meanwhile: Django never ran
            return web.Response(status=_CLIENT_CLOSED, reason="Client Closed Request")
        if isinstance(served, web.StreamResponse):
            return served
        code, reason, headers, body = served
        return web.Response(status=code, reason=reason, headers=headers, body=body)

    def _wait_for_thread(self, running: Future[Any], loop: asyncio.AbstractEventLoop) -> _Wait:
        """Note a request queued behind busy threads, for 503 once it waited ``queue_timeout``.

        One timer for the whole queue (at its oldest deadline), not one per request.
        """
        queued = self._queued
        while queued and queued[0].settled():
            queued.popleft()
        wait = _Wait(loop.time() + self.queue_timeout, running)
        queued.append(wait)
        if self._expiry is None:
            self._expiry = loop.call_at(queued[0].deadline, self._expire, loop)
        return wait

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._expiry = None
        queued, now = self._queued, loop.time()
        while queued and (queued[0].settled() or queued[0].deadline <= now):
            wait = queued.popleft()
            wait.expired = wait.running.cancel()  # False: a thread took it meanwhile
        if queued:
            self._expiry = loop.call_at(queued[0].deadline, self._expire, loop)


class _Wait:
    """A request waiting for a pool thread, and whether it waited too long (503)."""

    __slots__ = ("deadline", "expired", "running")

    def __init__(self, deadline: float, running: Future[Any]) -> None:
        self.deadline = deadline
        self.running = running
        self.expired = False

    def settled(self) -> bool:
        return self.running.running() or self.running.done()


def _on_loop(loop: asyncio.AbstractEventLoop, step: Coroutine[Any, Any, object]) -> None:
    """Run a streaming response's step (a write) on the loop; its pool thread waits for it.

    Waiting is the back-pressure from the client's socket, and keeps the whole response,
    generator and ``close()`` included, on one thread, as under a WSGI server.
    """
    try:
        done = asyncio.run_coroutine_threadsafe(step, loop)
    except RuntimeError:  # the loop is closed
        step.close()
        raise ConnectionResetError("The server stopped.") from None
    while True:
        try:
            done.result(timeout=_PUMP_CHECK)
            return
        except TimeoutError:
            if loop.is_closed():
                raise ConnectionResetError("The server stopped.") from None
        except CancelledError:  # the loop cancelled it (shutting down)
            raise ConnectionResetError("The server stopped.") from None


_Served = tuple[int, str, list[tuple[str, str]], bytes]


def _serve(
    application: WSGIApplication,
    environ: Environ,
    request: web.Request,
    loop: asyncio.AbstractEventLoop,
) -> _Served | web.StreamResponse | None:
    """Runs in a pool thread: the whole Django request; ``None`` if its client left first."""
    if _gone(request):
        return None
    code, reason, headers, chunks, iterator, result = _start(application, environ)
    if iterator is None:
        return code, reason, headers, b"".join(chunks)
    try:
        response = web.StreamResponse(status=code, reason=reason, headers=headers)
        _on_loop(loop, response.prepare(request))
        for chunk in chunks:
            _on_loop(loop, response.write(chunk))
        while not _gone(request):
            more = next(iterator, None)
            if more is None:
                _on_loop(loop, response.write_eof())
                break
            _on_loop(loop, response.write(more))  # raises once the client has gone
        return response
    finally:
        # Closing stops a generator that is still running (client gone) and lets Django
        # send request_finished, on the thread that ran the request.
        _close(result)


def _gone(request: web.BaseRequest) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()
