"""Logging that never blocks the event loop: handlers run on a thread of their own while serving.

Django's default logging mails ``ADMINS`` from ``django.request`` and ``django.security.*`` with
``AdminEmailHandler``, which talks SMTP synchronously; a file or syslog handler can stall too.
On the loop, one such record makes every connection wait. While the server runs,
``deferred_logging()`` gives each logger that aiodjango, Django and aiohttp log to (and the root
logger) a single handler that only puts the record on a bounded queue; one thread hands the
records to the original handlers, with their levels and filters, in order. Records are passed
as they are (``exc_info`` and Django's ``request`` included), so mail and tracebacks look as
before. When the queue is full a record is dropped and counted rather than waited for. On exit
the handlers are put back and what is queued is delivered, for at most ``flush_timeout``
seconds.

``client_errors_as_info()`` keeps a client's own mistakes out of the error log: aiohttp logs
each malformed request (and a client leaving at the wrong moment) at ERROR with a traceback,
so any client could fill the log, or the mail, at will.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Final

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ("DEFERRED_LOGGERS", "client_errors_as_info", "deferred_logging", "flush_deferred")

DEFERRED_LOGGERS: Final = ("django", "aiodjango", "aiohttp")
"""Logger hierarchies whose handlers move to the logging thread (the root logger's too)."""

QUEUE_SIZE: Final = 10_000

_Item = tuple[tuple[logging.Handler, ...], logging.LogRecord] | None


class _Enqueue(logging.Handler):
    """Stands in for a logger's handlers: puts each record on the queue, never waits."""

    def __init__(self, handlers: Sequence[logging.Handler], sink: _Sink) -> None:
        super().__init__()
        self.handlers: Final = tuple(handlers)
        self._sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self._sink.put((self.handlers, record))


class _Sink:
    def __init__(self, size: int) -> None:
        self.queue: queue.Queue[_Item] = queue.Queue(size)
        self.dropped = 0

    def put(self, item: _Item) -> None:
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def run(self) -> None:
        while (item := self.queue.get()) is not None:
            handlers, record = item
            for handler in handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)  # handles its own errors (handleError)
            self.queue.task_done()


_active: Final[set[_Sink]] = set()  # the sinks of the deferred_logging() blocks now open


def flush_deferred(timeout: float = 2.0) -> None:
    """Wait, at most ``timeout`` seconds, until every record queued so far is handled.

    For an exit that skips the end of the ``deferred_logging()`` block: the autoreloader's
    ``sys.exit()`` in another thread, or ``os._exit()``; the records would be lost otherwise.
    """
    deadline = time.monotonic() + timeout
    for sink in list(_active):
        while sink.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)


def _targets(prefixes: Sequence[str]) -> list[logging.Logger]:
    loggers = [logging.getLogger()]
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and any(
            name == prefix or name.startswith(prefix + ".") for prefix in prefixes
        ):
            loggers.append(logger)
    return [logger for logger in loggers if logger.handlers]


@contextmanager
def deferred_logging(
    prefixes: Sequence[str] = DEFERRED_LOGGERS,
    *,
    size: int = QUEUE_SIZE,
    flush_timeout: float = 2.0,
) -> Iterator[None]:
    """Within the block, the handlers of ``prefixes`` loggers (and root's) run on one thread.

    Parameters:
        prefixes: logger names whose hierarchies are deferred (``DEFERRED_LOGGERS``).
        size: records queued at most; past it new records are dropped and counted.
        flush_timeout: seconds the queued records get to go out when the block ends.
    """
    sink = _Sink(size)
    moved: list[tuple[logging.Logger, list[logging.Handler]]] = []
    for logger in _targets(prefixes):
        original = list(logger.handlers)
        moved.append((logger, original))
        logger.handlers = [_Enqueue(original, sink)]
    thread = threading.Thread(target=sink.run, name="aiodjango-logging", daemon=True)
    thread.start()
    _active.add(sink)
    try:
        yield
    finally:
        _active.discard(sink)
        for logger, original in moved:
            logger.handlers = original
        try:
            sink.queue.put(None, timeout=flush_timeout)
        except queue.Full:
            pass
        else:
            thread.join(flush_timeout)
        if thread.is_alive() or sink.dropped:
            left = sink.queue.qsize()
            print(
                f"aiodjango: {sink.dropped} log record(s) dropped (queue full), "
                f"{left} not delivered before exit (a log handler is slow).",
                file=sys.stderr,
            )


class _ClientErrors(logging.Filter):
    """Turns aiohttp's ERROR for a malformed request or a vanished client into one INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.levelno >= logging.ERROR and isinstance(
            error, HttpProcessingError | ConnectionError
        ):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = "Bad request from %s: %s", (remote, error)
            record.exc_info = record.exc_text = None
        return True


@contextmanager
def client_errors_as_info(logger_name: str = "aiohttp.server") -> Iterator[None]:
    """Within the block, ``logger_name`` logs clients' protocol errors at INFO, untraced."""
    logger, quiet = logging.getLogger(logger_name), _ClientErrors()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)
