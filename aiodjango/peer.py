"""The transport-level protection of an open websocket: a guard in front of each peer.

Before a websocket's handshake is answered, ``PeerGuard.install()`` puts a protocol between its
transport and aiohttp's: it closes the connection with 1002 on an unmasked client frame (RFC
6455 §5.1; those sent in the handshake's own packet too, which aiohttp holds until it answers),
caps the kernel's send buffer (``AIODJANGO_WS_SEND_BUFFER``),
drops a peer that leaves the send buffer full for ``AIODJANGO_WS_SEND_TIMEOUT`` seconds (it
stopped reading), so the writer is released and memory stays bounded, and notes that bytes
arrived for the heartbeat: one ``_Pulse`` timer per loop and interval pings the silent sockets
(``AIODJANGO_WS_HEARTBEAT``) and drops those that do not answer. Nothing here runs a timer per
message. It logs on ``aiodjango.websocket``, as the rest of the websocket code does.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import ClassVar, Final

from aiohttp import web

from .interop import CLOSE_PROTOCOL_ERROR

__all__ = ("PeerGuard", "peer_gone")

logger: Final = logging.getLogger("aiodjango.websocket")


def peer_gone(request: web.BaseRequest) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _ignore(data: bytes) -> None:
    """What a refused connection's bytes are forwarded to."""


class PeerGuard(asyncio.Protocol):
    """Sits between an open websocket's transport and aiohttp's protocol, forwarding all.

    It refuses unmasked client frames (RFC 6455 §5.1; aiohttp's reader accepts them) with
    1002 by tracking frame boundaries, and drops a peer whose send buffer stays above the
    high-water mark for ``send_timeout`` seconds: the transport pauses the writer then, and
    only a reading peer resumes it, so one timer per pause bounds the stall. It notes that
    bytes arrived (``seen``) for the heartbeat (``_Pulse``), so receiving costs no timer.
    """

    __slots__ = (
        "_close_timeout",
        "_forward",
        "_head",
        "_inner",
        "_path",
        "_pulse",
        "_refusal_pending",
        "_send_timeout",
        "_skip",
        "_stall",
        "_started",
        "_transport",
        "pinged",
        "quiet",
        "seen",
        "ws",
    )

    def __init__(
        self,
        inner: asyncio.Protocol,
        transport: asyncio.Transport,
        ws: web.WebSocketResponse,
        path: str,
        send_timeout: float | None,
        close_timeout: float,
    ) -> None:
        self._inner = inner
        self._forward = inner.data_received  # bound once: one call per read
        self._transport = transport
        self.ws = ws
        self._path = path
        self._send_timeout = send_timeout
        self._close_timeout = close_timeout
        self._stall: asyncio.TimerHandle | None = None
        self._skip = 0  # payload bytes of the current frame still to come
        self._head = b""  # the start of a frame header split across reads
        self._pulse: _Pulse | None = None
        self.seen = True  # bytes arrived since the heartbeat last looked
        self.quiet = 0  # heartbeat ticks in a row that found nothing arrived
        self.pinged = False  # a heartbeat ping is unanswered
        self._started = False  # the handshake is answered: a refusal may be written
        self._refusal_pending = False  # an unmasked frame came before that

    @classmethod
    def install(
        cls,
        request: web.Request,
        ws: web.WebSocketResponse,
        send_timeout: float | None,
        close: float,
        send_buffer: int | None = None,
    ) -> PeerGuard | None:
        """Put a guard in front of ``request``'s connection, before ``ws.prepare()``.

        ``send_buffer`` caps the kernel's send buffer (``SO_SNDBUF``), which Linux otherwise
        grows to megabytes for a peer that stopped reading. Call ``start()`` once the
        handshake is answered, ``remove()`` if it was refused.
        """
        transport = request.transport
        if transport is None:
            return None
        sock = transport.get_extra_info("socket")
        if send_buffer is not None and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        inner = transport.get_protocol()
        assert isinstance(inner, asyncio.Protocol)
        guard = cls(inner, transport, ws, request.path, send_timeout, close)
        # Bytes that came after the handshake request (frames in its packet) wait in aiohttp's
        # protocol until prepare() hands them to the websocket parser: judged here first, and
        # none of them reaches the handler if one is unmasked.
        tail = getattr(inner, "_message_tail", b"")
        if tail and not guard._frames_masked(tail):
            inner._message_tail = b""  # type: ignore[attr-defined]
            guard._refuse_unmasked()
        transport.set_protocol(guard)
        if request.protocol.writing_paused:
            guard.pause_writing(forward=False)
        return guard

    def start(self, heartbeat: float | None) -> None:
        """The handshake is answered: refuse what came unmasked before, start the heartbeat."""
        self._started = True
        if self._refusal_pending:
            self._refuse_unmasked()
        elif heartbeat is not None:
            self._pulse = _Pulse.join(self, heartbeat)

    def remove(self) -> None:
        """The handshake was refused: give the connection back to aiohttp's protocol."""
        self._transport.set_protocol(self._inner)

    # -- the transport's calls, forwarded ------------------------------------------------
    def data_received(self, data: bytes) -> None:
        self.seen = True
        skip = self._skip
        if skip >= len(data) and not self._head:  # the middle of a payload: the fast path
            self._skip = skip - len(data)
            self._forward(data)
        elif self._frames_masked(data):
            self._forward(data)  # aiohttp gets each byte once, as it came
        else:
            self._refuse_unmasked()

    def _frames_masked(self, data: bytes) -> bool:
        """Walk the frame headers that start in ``data``: False at an unmasked one."""
        size = len(data)
        skip = self._skip
        seen = data  # what the guard parses
        if self._head:
            seen, size = self._head + data, size + len(self._head)
            self._head = b""
        pos = skip
        while pos < size:  # every frame header starting here: is its mask bit set?
            if size - pos < 2:
                self._head = seen[pos:]
                break
            second = seen[pos + 1]
            if not second & 0x80:
                return False
            length = second & 0x7F
            if length < 126:
                pos += 6 + length
                continue
            extended = 2 if length == 126 else 8
            if size - pos < 2 + extended:
                self._head = seen[pos:]
                break
            length = int.from_bytes(seen[pos + 2 : pos + 2 + extended], "big")
            pos += 6 + extended + length
        self._skip = pos - size if pos > size else 0
        return True

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        if self._pulse is not None:
            self._pulse.leave(self)
            self._pulse = None
        self._inner.connection_lost(exc)

    def pause_writing(self, forward: bool = True) -> None:
        if forward:
            self._inner.pause_writing()
        if self._send_timeout is not None and self._stall is None:
            loop = asyncio.get_running_loop()
            self._stall = loop.call_later(self._send_timeout, self._drop_stalled)

    def resume_writing(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        self._inner.resume_writing()

    # -- the guard's own work ------------------------------------------------------------
    def _refuse_unmasked(self) -> None:
        self._forward = _ignore
        self._skip, self._head = 1 << 62, b""  # what follows is not parsed
        if not self._started:  # the close frame must follow the 101, not precede it
            self._refusal_pending = True
            return
        self._refusal_pending = False
        logger.warning(
            "Websocket %s: unmasked client frame, closed with %d (RFC 6455 5.1)",
            self._path,
            CLOSE_PROTOCOL_ERROR,
        )
        reason = b"Unmasked frame"
        payload = CLOSE_PROTOCOL_ERROR.to_bytes(2, "big") + reason
        self._transport.write(bytes((0x88, len(payload))) + payload)
        self._transport.close()
        asyncio.get_running_loop().call_later(self._close_timeout, self._transport.abort)

    def _drop_stalled(self) -> None:
        self._stall = None
        logger.warning(
            "Websocket %s dropped: the peer read nothing for %.1f s with %d bytes waiting "
            "(AIODJANGO_WS_SEND_TIMEOUT)",
            self._path,
            self._send_timeout,
            self._transport.get_write_buffer_size(),
        )
        self._transport.abort()

    def ping(self) -> bool:
        """Send a heartbeat ping; False when the socket is closing (nothing to keep alive)."""
        if self.ws.closed or self._transport.is_closing():
            return False
        self._transport.write(_PING)  # one write, as aiohttp writes each frame
        return True

    def drop_silent(self, interval: float) -> None:
        """The peer answered no ping: close the connection without a close frame (1006)."""
        logger.debug(
            "Websocket %s dropped: no answer to a ping within %.1f s (AIODJANGO_WS_HEARTBEAT)",
            self._path,
            interval / 2,
        )
        # aiohttp's own heartbeat's ending: close code 1006 and a waiting receive() woken with
        # the error, before the handler may be cancelled; then no flush to a vanished peer.
        fail = getattr(self.ws, "_handle_ping_pong_exception", None)
        if fail is not None:
            fail(TimeoutError(f"No PONG received after {interval / 2} seconds"))
        self._transport.abort()


_PING: Final = b"\x89\x00"  # an empty, unmasked ping frame


class _Pulse:
    """The heartbeat of every guarded socket of one loop with one interval: one timer in all.

    Every half interval it looks at each socket: one that received anything since the last
    look is fine; one silent for two looks in a row (at least one interval) gets a ping; one
    that has still received nothing at the next look (half an interval later) is dropped. So
    a vanished peer is dropped within two intervals of its last byte, and receiving a message
    costs one attribute store instead of a timer reset.
    """

    _running: ClassVar[dict[tuple[asyncio.AbstractEventLoop, float], _Pulse]] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.interval = interval
        self.guards: set[PeerGuard] = set()
        self._timer = loop.call_later(interval / 2, self._tick)

    @classmethod
    def join(cls, guard: PeerGuard, interval: float) -> _Pulse:
        """The pulse of this loop and ``interval``, with ``guard`` in it."""
        loop = asyncio.get_running_loop()
        pulse = cls._running.get((loop, interval))
        if pulse is None:
            pulse = cls._running[loop, interval] = cls(loop, interval)
        pulse.guards.add(guard)
        return pulse

    def leave(self, guard: PeerGuard) -> None:
        """Stop watching ``guard``; the last one out stops the timer."""
        self.guards.discard(guard)
        if not self.guards:
            self._timer.cancel()
            if self._running.get((self.loop, self.interval)) is self:
                del self._running[self.loop, self.interval]

    def _tick(self) -> None:
        for guard in list(self.guards):
            if guard.seen:
                guard.seen, guard.quiet, guard.pinged = False, 0, False
            elif guard.pinged:
                guard.drop_silent(self.interval)
                self.guards.discard(guard)
            else:
                guard.quiet += 1
                if guard.quiet >= 2:
                    guard.pinged = guard.ping()
        if self.guards:
            self._timer = self.loop.call_later(self.interval / 2, self._tick)
        elif self._running.get((self.loop, self.interval)) is self:
            del self._running[self.loop, self.interval]
