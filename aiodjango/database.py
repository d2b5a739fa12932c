"""Database threads: where the sync code of async views and websockets (the async ORM) runs.

Django's async ORM (``aget``, ``acount``, ``async for``) and every
``sync_to_async(thread_sensitive=True)`` call run sync code on a thread that asgiref picks. Left
alone, asgiref picks one thread for the whole server, whose connection never sees Django's
request signals. aiodjango gives that work a bounded pool of long-lived threads,
``DatabaseThreads`` (``AIODJANGO_DB_THREADS``), and lends one of them to each request through a
``DatabaseLease``, an executor that asgiref uses for the request's thread-sensitive calls:

- the lease takes a thread at its first call, so a view that never calls sync code costs no
  thread and sends no signal; when every thread is lent out the call waits in a queue (the
  event loop never blocks);
- an HTTP view's lease keeps its thread until the view returns: ``request_started`` is sent
  on that thread before the first call, ``request_finished`` after the view, so Django's
  connection rules (``CONN_MAX_AGE``, ``CONN_HEALTH_CHECKS``, errors) apply as for a Django view;
- a websocket's lease (``release_when_idle=True``) gives its thread back whenever no call is in
  flight, running ``close_old_connections()`` when it takes one and when it gives it back;
- a thread-sensitive call outside any lease (a task that outlived its view, one started at
  start-up) gets a lease of its own for that call, as a websocket's.

Connections belong to the threads, so open connections never outnumber the threads, and
Django's connection pool (``OPTIONS["pool"]``) hands out at most its ``max_size``. asgiref
finds the leases through ``AsyncToSync.loop_thread_executors``: ``use_database_threads(app)``
installs one router per event loop there at start-up, which reads the current lease from a
context variable; docs/database.md says why this and not ``ThreadSensitiveContext``.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from types import TracebackType
from typing import Any, Final, TypeVar

from aiohttp import web
from asgiref.sync import AsyncToSync
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections

from .conf import conf

__all__ = (
    "DatabaseLease",
    "DatabaseThreads",
    "ViewLease",
    "close_database_threads",
    "database_threads",
    "install_router",
    "use_database_threads",
)

T = TypeVar("T")
logger: Final = logging.getLogger("aiodjango.database")

# (lease, future or None for a hook, function, args, kwargs)
_Item = tuple[
    "DatabaseLease", "Future[Any] | None", Callable[..., Any], tuple[Any, ...], dict[str, Any]
]
_current: Final[contextvars.ContextVar[DatabaseLease | None]] = contextvars.ContextVar(
    "aiodjango_database_lease", default=None
)
_names: Final = itertools.count(1)


class _Worker(threading.Thread):
    """One database thread: runs the items its lease queues, in order."""

    def __init__(self, threads: DatabaseThreads) -> None:
        super().__init__(name=f"aiodjango-db-{next(_names)}", daemon=True)
        self.threads: Final = threads
        self.items: Final[queue.SimpleQueue[_Item | None]] = queue.SimpleQueue()
        self.put: Final = self.items.put

    def run(self) -> None:
        get = self.items.get
        try:
            while True:
                item = get()
                if item is None:
                    return
                lease, future, function, args, kwargs = item
                if future is None:  # a lease's hook: request_started, close_old_connections
                    _run_hook(function)
                    continue
                error: BaseException | None = None
                result: Any = None
                if future.set_running_or_notify_cancel():
                    try:
                        result = function(*args, **kwargs)
                    except BaseException as exc:
                        error = exc
                if lease._done_one(self):
                    # Back to the pool before the caller hears of it, so that a websocket
                    # that got its answer holds no thread.
                    if lease.release_when_idle:
                        _run_hook(close_old_connections)
                    self.threads._give_back(self)
                if future.cancelled():
                    continue
                if error is not None:
                    future.set_exception(error)
                    del error
                else:
                    future.set_result(result)
        finally:
            connections.close_all()


def _run_hook(hook: Callable[[], Any]) -> None:
    try:
        hook()
    except Exception:
        logger.exception("Database thread hook %r failed", hook)


class DatabaseThreads:
    """A bounded set of long-lived threads for database work, lent to one lease at a time.

    Threads start when first needed, up to ``size`` (``AIODJANGO_DB_THREADS`` when None, read
    each time one more is wanted), and live on, each with its own Django connections. The most
    recently returned thread is lent first, so with ``CONN_MAX_AGE > 0`` the connections that
    are not needed age out. Leases asking while every thread is lent out wait in FIFO order.
    """

    def __init__(self, size: int | None = None) -> None:
        if size is not None and (isinstance(size, bool) or size < 1):
            raise ValueError(f"DatabaseThreads needs size >= 1, got {size!r}.")
        self._size: Final = size
        self._lock: Final = threading.Lock()
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._waiting: collections.deque[DatabaseLease] = collections.deque()
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"<DatabaseThreads {len(self._workers)}/{self.size} started, "
            f"{len(self._idle)} idle, {len(self._waiting)} waiting>"
        )

    @property
    def size(self) -> int:
        """The most threads this pool runs at once."""
        return self._size if self._size is not None else conf.DB_THREADS

    @property
    def started(self) -> int:
        """Threads running now, lent out or idle."""
        return len(self._workers)

    @property
    def lent(self) -> int:
        """Threads lent to a lease now."""
        return len(self._workers) - len(self._idle)

    @property
    def waiting(self) -> int:
        """Leases waiting for a thread."""
        return len(self._waiting)

    def _take_locked(self, lease: DatabaseLease, size: int) -> _Worker | None:
        if self._idle:
            return self._idle.pop()
        if len(self._workers) < size:
            worker = _Worker(self)
            self._workers.add(worker)
            worker.start()
            return worker
        self._waiting.append(lease)
        return None

    def _give_back(self, worker: _Worker) -> None:
        size = self.size
        with self._lock:
            if self._closed or len(self._workers) > size:
                self._workers.discard(worker)
                worker.put(None)  # it closes its connections and ends
            elif self._waiting:
                self._waiting.popleft()._attach_locked(worker)
            else:
                self._idle.append(worker)

    def close(self) -> list[threading.Thread]:
        """Stop the idle threads (closing their connections); lent ones stop when returned.

        Returns the threads told to stop, to join if the caller must wait for them.
        """
        with self._lock:
            self._closed = True
            stopping: list[threading.Thread] = list(self._idle)
            for worker in self._idle:
                self._workers.discard(worker)
                worker.put(None)
            self._idle.clear()
        return stopping


_threads: DatabaseThreads | None = None
_threads_lock: Final = threading.Lock()


def database_threads() -> DatabaseThreads:
    """The process's ``DatabaseThreads``, created at first use; leases borrow from it."""
    global _threads
    threads = _threads
    if threads is None:
        with _threads_lock:
            if _threads is None:
                _threads = DatabaseThreads()
            threads = _threads
    return threads


async def close_database_threads() -> None:
    """Stop the database threads and close their connections; the next lease starts anew.

    For tests (``aiodjango.testing`` calls it when a server stops, so the test database can be
    flushed or dropped) and for the application's clean-up. Threads still lent out stop when
    their lease returns them.
    """
    global _threads
    with _threads_lock:
        threads, _threads = _threads, None
    if threads is not None:
        await asyncio.to_thread(_join, threads.close(), 5.0)


def _join(stopping: list[threading.Thread], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for thread in stopping:
        thread.join(max(0.0, deadline - time.monotonic()))


class DatabaseLease(Executor):
    """The thread-sensitive executor of one request: a database thread, borrowed lazily.

    Use it as ``async with DatabaseLease():`` around a view (aiodjango's dispatch does, for
    every async view through ``view_lease()``, and for every websocket handler): inside,
    ``sync_to_async`` calls and the async ORM run on the lease's thread. The thread is taken
    at the first call and kept until the block ends; with ``release_when_idle=True`` it is
    given back whenever no call is in flight.

    Parameters:
        threads: where to borrow from; ``database_threads()`` when omitted.
        release_when_idle: give the thread back between calls (websockets, background tasks),
            with ``close_old_connections()`` on taking and on returning it, instead of sending
            Django's request signals around the whole block.
    """

    # Class-level defaults: a lease that is never used costs one attribute write (the view
    # path creates one per request).
    release_when_idle: bool = False
    _threads: DatabaseThreads | None = None
    _worker: _Worker | None = None
    _pending: list[_Item] | None = None  # calls waiting for a thread
    _in_flight: int = 0
    _used: bool = False
    _closed: bool = False
    _context: contextvars.Context | None = None  # where request_started runs
    _token: contextvars.Token[DatabaseLease | None] | None = None

    def __init__(
        self, threads: DatabaseThreads | None = None, *, release_when_idle: bool = False
    ) -> None:
        if threads is not None:
            self._threads = threads
        if release_when_idle:
            self.release_when_idle = True

    def __repr__(self) -> str:
        state = "closed" if self._closed else "holding a thread" if self._worker else "idle"
        return f"<DatabaseLease {state}, {self._in_flight} in flight>"

    async def __aenter__(self) -> DatabaseLease:
        self._token = _current.set(self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.leave():
            await self.finish()

    def leave(self) -> bool:
        """Stop being the current lease (in the context that entered it); True if it was used.

        A lease that was never used is closed here and needs nothing more; a used one must be
        ``await``-ed ``finish()``-ed; ``__aexit__`` pairs them so (``ViewLease`` inlines both).
        """
        _current.reset(self._token)  # type: ignore[arg-type]
        if not self._used:
            self._closed = True
            return False
        return True

    async def finish(self) -> None:
        """Give the thread back; an HTTP view's lease sends ``request_finished`` on it first."""
        if self.release_when_idle:
            self._close()
            return
        finished = self._call(
            request_finished.send, (type(self),), {}, context=contextvars.copy_context()
        )
        self._close()
        try:
            await asyncio.shield(asyncio.wrap_future(finished))
        except Exception:
            logger.exception("request_finished failed after an async view")

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` on the lease's thread (asgiref calls this)."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed; enter a new DatabaseLease for this work.")
        return self._call(fn, args, kwargs)

    def _call(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        context: contextvars.Context | None = None,
    ) -> Future[T]:
        future: Future[T] = Future()
        if context is not None:
            fn, args = context.run, (fn, *args)
        item: _Item = (self, future, fn, args, kwargs)
        threads = self._threads
        if threads is None:
            threads = self._threads = database_threads()
        size = threads.size if self._worker is None and self._pending is None else 0
        with threads._lock:
            self._in_flight += 1
            worker = self._worker
            if worker is not None:
                worker.put(item)
            elif self._pending is not None:  # already waiting for a thread
                self._pending.append(item)
            else:
                if not self._used:
                    self._used = True
                    if not self.release_when_idle:
                        self._context = contextvars.copy_context()
                self._pending = [item]
                worker = threads._take_locked(self, size)
                if worker is not None:
                    self._attach_locked(worker)
        return future

    def _attach_locked(self, worker: _Worker) -> None:
        """Give ``worker`` to this lease: its hook first, then the calls that waited."""
        self._worker = worker
        pending, self._pending = self._pending or [], None
        if self.release_when_idle:
            worker.put((self, None, close_old_connections, (), {}))
        elif self._context is not None:
            context, self._context = self._context, None
            worker.put((self, None, _request_started(context), (), {}))
        for item in pending:
            worker.put(item)

    def _done_one(self, worker: _Worker) -> bool:
        """A call finished on ``worker``: should the thread go back to the pool now?"""
        threads = self._threads
        assert threads is not None
        with threads._lock:
            self._in_flight -= 1
            if self._in_flight or not (self.release_when_idle or self._closed):
                return False
            if self._worker is not worker:
                return False
            self._worker = None
            return True

    def _close(self) -> None:
        threads = self._threads
        assert threads is not None
        with threads._lock:
            self._closed = True
            worker = self._worker
            if worker is None or self._in_flight:
                return  # no thread, or the last call in flight gives it back
            self._worker = None
        threads._give_back(worker)


class ViewLease(DatabaseLease):
    """An HTTP view's lease, entered and left by C calls only: the per-request path of a view.

    The same as ``async with DatabaseLease():`` without its coroutine frames and method calls
    (each request pays for this, used or not): ``ViewLease()`` is an object with the class
    defaults (its thread is taken only at the first call), ``enter`` and ``exit`` are the
    context variable's own ``set`` and ``reset``; a lease that was ``used`` must be
    ``await``-ed ``finish()``-ed, any other ``closed``, so that a task which outlived the view
    never borrows a thread for it::

        lease = ViewLease()
        token = ViewLease.enter(lease)
        try:
            return await view(request)
        finally:
            ViewLease.exit(token)
            if lease._used:
                await lease.finish()
            else:
                lease._closed = True
    """

    __init__ = object.__init__  # class defaults only
    enter: Final = _current.set
    exit: Final = _current.reset


def _request_started(context: contextvars.Context) -> Callable[[], object]:
    return lambda: context.run(request_started.send, DatabaseLease)


class _Router(Executor):
    """asgiref's executor for an event loop: sends each call to the current lease."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        lease = _current.get()
        if lease is None or lease._closed:
            # Outside a lease, or in a task that outlived its view: a lease for this call.
            lease = DatabaseLease(release_when_idle=True)
        return lease._call(fn, args, kwargs)


_ROUTER: Final = _Router()


def use_database_threads(app: web.Application) -> None:
    """Route ``app``'s thread-sensitive calls to the leases, and close the threads after it.

    ``get_aio_application()`` calls it. At start-up it makes the lease router asgiref's
    executor for the serving event loop; at clean-up it closes the database threads.
    """
    app.on_startup.append(_on_startup)
    app.on_cleanup.append(_on_cleanup)


async def _on_startup(app: web.Application) -> None:
    install_router(asyncio.get_running_loop())


async def _on_cleanup(app: web.Application) -> None:
    await close_database_threads()


def install_router(loop: asyncio.AbstractEventLoop) -> None:
    """Make the lease router asgiref's thread-sensitive executor for ``loop`` (idempotent)."""
    executors: dict[asyncio.AbstractEventLoop, Any] = AsyncToSync.loop_thread_executors
    if executors.get(loop) is _ROUTER:
        return
    if loop in executors:  # asgiref's own loop (async_to_sync): leave it its thread
        return
    for old in [old for old, executor in executors.items() if executor is _ROUTER]:
        if old.is_closed():
            del executors[old]
    executors[loop] = _ROUTER
