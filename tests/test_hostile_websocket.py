"""Hostile websocket clients over raw sockets, against a real server on 127.0.0.1.

A client library would clean these inputs up, so each case writes its bytes itself: bad
handshakes and versions, unmasked, oversize (plain and compressed), malformed and invalid UTF-8
frames, ping floods, and peers that stop reading. Every case ends in a 4xx or a close code,
never a 500 or an ERROR log, and the server still serves afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import socket
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast

import pytest
from aiohttp import WSMsgType

from aiodjango import get_aio_application
from aiodjango.interop import WS_REQUEST_KEY
from aiodjango.testing import serve
from aiodjango.websocket import (
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_PROTOCOL_ERROR,
    WEBSOCKETS_KEY,
)

from . import ws_views
from .helpers import Client, port_of, served_without_cancellation

LIVENESS = 30.0  # seconds before a test that should have ended is called hung (not a timing test)
LIMIT = 1000  # AIODJANGO_WS_MAX_MESSAGE_SIZE in the frame cases


def frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, mask: bool = True, rsv1: bool = False
) -> bytes:
    """One client frame, masked unless told otherwise (RFC 6455 §5.2)."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    bit, size = (0x80 if mask else 0), len(payload)
    if size < 126:
        head = bytes((first, bit | size))
    elif size < 2**16:
        head = bytes((first, bit | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first, bit | 127)) + size.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = os.urandom(4)
    stream = (key * (size // 4 + 1))[:size]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")
    return head + key + masked


def deflated(data: bytes) -> bytes:
    """``data`` as a permessage-deflate payload (RFC 7692 §7.2.1: the tail 00 00 ff ff cut)."""
    compressor = zlib.compressobj(wbits=-15)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


class Raw:
    """A raw TCP websocket client: writes bytes as given, reads the server's frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self._inflate = zlib.decompressobj(wbits=-15)  # the server keeps its context

    opened: list[Raw] = []  # every Raw of a test, aborted after it (see the fixture below)

    @classmethod
    async def open(cls, port: int) -> Raw:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        raw = cls(reader, writer)
        cls.opened.append(raw)
        return raw

    async def request(self, head: bytes) -> tuple[int, dict[str, str]]:
        """Sends a request head, returns the response's status and headers."""
        self.writer.write(head)
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), LIVENESS)
        status_line, *lines = raw.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines if ": " in line)
        return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}

    async def upgrade(self, port: int, path: str = "/ws/echo/", extra: str = "") -> int:
        status, _ = await self.request(handshake(port, path, extra=extra))
        return status

    async def read_frame(self) -> tuple[int, bytes]:
        """The next server frame: (opcode, payload inflated if RSV1); never masked."""
        head = await asyncio.wait_for(self.reader.readexactly(2), LIVENESS)
        size = head[1] & 0x7F
        if size == 126:
            size = int.from_bytes(await self.reader.readexactly(2), "big")
        elif size == 127:
            size = int.from_bytes(await self.reader.readexactly(8), "big")
        payload = await self.reader.readexactly(size)
        if head[0] & 0x40:
            payload = self._inflate.decompress(payload + b"\x00\x00\xff\xff")
        return head[0] & 0x0F, payload

    async def close_code(self) -> int:
        """Reads frames until the server's close frame and returns its code."""
        while True:
            opcode, payload = await self.read_frame()
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big")

    async def finish(self) -> None:
        """Closes the connection (the server may have reset it already)."""
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def handshake(
    port: int,
    path: str = "/ws/echo/",
    *,
    version: str | None = "13",
    key: str | None = None,
    extra: str = "",
) -> bytes:
    """A websocket handshake request; ``None`` leaves a header out."""
    key = base64.b64encode(os.urandom(16)).decode() if key is None else key
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}" if key else "",
        f"Sec-WebSocket-Version: {version}" if version is not None else "",
        extra,
    ]
    return ("\r\n".join(line for line in lines if line) + "\r\n\r\n").encode()


@dataclass(frozen=True)
class Handshake:
    """A handshake the server must refuse with ``status``."""

    name: str
    request: Callable[[int], bytes]
    status: int


HANDSHAKES = [
    Handshake("version 8", lambda p: handshake(p, version="8"), 426),
    Handshake("version 7", lambda p: handshake(p, version="7"), 426),
    Handshake("version 14", lambda p: handshake(p, version="14"), 426),
    Handshake("no version", lambda p: handshake(p, version=None), 426),
    Handshake("no key", lambda p: handshake(p, key=""), 400),
    Handshake("key not base64", lambda p: handshake(p, key="!!!not-base64!!!"), 400),
    Handshake(
        "key of 8 bytes", lambda p: handshake(p, key=base64.b64encode(b"x" * 8).decode()), 400
    ),
    Handshake(
        "no Connection: Upgrade",
        lambda p: handshake(p).replace(b"Connection: Upgrade", b"Connection: keep-alive"),
        400,
    ),
    Handshake("Upgrade: h2c", lambda p: handshake(p).replace(b"websocket", b"h2c", 1), 426),
    Handshake("POST", lambda p: handshake(p).replace(b"GET", b"POST", 1), 405),
    Handshake("evil origin", lambda p: handshake(p, extra="Origin: https://evil.example"), 403),
    Handshake("null origin", lambda p: handshake(p, extra="Origin: null"), 403),
    Handshake("bad Host", lambda p: handshake(p).replace(f"127.0.0.1:{p}".encode(), b"evil"), 400),
    Handshake(
        "absolute-form, evil authority",
        lambda p: handshake(p).replace(b"GET /ws/echo/", b"GET http://evil.example/ws/echo/", 1),
        400,
    ),
    Handshake("login required", lambda p: handshake(p, "/ws/private/"), 403),
]


@dataclass(frozen=True)
class Frames:
    """Bytes sent after a good handshake (``deflate``: offering permessage-deflate), and the
    close code the server must answer with (None: it must echo ``echo``)."""

    name: str
    data: Callable[[], bytes]
    code: int | None
    deflate: bool = False
    echo: bytes = b""


def _utf8(data: bytes) -> bytes:
    return frame(0x1, data)


FRAMES = [
    Frames("unmasked text", lambda: frame(0x1, b"hello", mask=False), CLOSE_PROTOCOL_ERROR),
    Frames("unmasked ping", lambda: frame(0x9, b"", mask=False), CLOSE_PROTOCOL_ERROR),
    Frames(
        "masked then unmasked",
        lambda: frame(0x1, b"ok") + frame(0x1, b"x" * 200, mask=False),
        CLOSE_PROTOCOL_ERROR,
    ),
    Frames("plain at the limit", lambda: frame(0x2, b"a" * LIMIT), None, echo=b"a" * LIMIT),
    Frames("plain limit + 1", lambda: frame(0x2, b"a" * (LIMIT + 1)), CLOSE_MESSAGE_TOO_BIG),
    Frames(
        "plain 2**31 declared",
        lambda: frame(0x2, b"")[:1] + b"\xff" + (2**31).to_bytes(8, "big") + b"mask",
        CLOSE_MESSAGE_TOO_BIG,
    ),
    Frames(
        "fragments over the limit",
        lambda: frame(0x2, b"a" * 600, fin=False) + frame(0x0, b"a" * 600),
        CLOSE_MESSAGE_TOO_BIG,
    ),
    Frames(
        "deflated at the limit",
        lambda: frame(0x2, deflated(b"z" * LIMIT), rsv1=True),
        None,
        deflate=True,
        echo=b"z" * LIMIT,
    ),
    Frames(
        "deflated limit + 1",
        lambda: frame(0x2, deflated(b"z" * (LIMIT + 1)), rsv1=True),
        CLOSE_MESSAGE_TOO_BIG,
        deflate=True,
    ),
    Frames(
        "deflate bomb (16 MiB of zeros)",
        lambda: frame(0x2, deflated(bytes(2**24)), rsv1=True),
        CLOSE_MESSAGE_TOO_BIG,
        deflate=True,
    ),
    Frames("deflated, not negotiated", lambda: frame(0x2, deflated(b"z"), rsv1=True), 1002),
    Frames("invalid UTF-8", lambda: _utf8(b"\xff\xfe"), 1007),
    Frames("overlong UTF-8", lambda: _utf8(b"\xc0\xaf"), 1007),
    Frames("UTF-16 surrogate", lambda: _utf8(b"\xed\xa0\x80"), 1007),
    Frames("reserved opcode 3", lambda: frame(0x3, b"x"), 1002),
    Frames("reserved opcode 11", lambda: frame(0xB, b"x"), 1002),
    Frames("control frame of 126 bytes", lambda: frame(0x9, b"p" * 126), 1002),
    Frames("fragmented ping", lambda: frame(0x9, b"p", fin=False), 1002),
    Frames("continuation first", lambda: frame(0x0, b"x"), 1002),
    Frames("close with code 999", lambda: frame(0x8, (999).to_bytes(2, "big")), 1002),
    Frames("close with 1 byte", lambda: frame(0x8, b"\x03"), 1002),
]


@pytest.fixture(autouse=True)
async def _abort_raw_sockets() -> AsyncIterator[None]:
    """Even a failing test leaves no socket open."""
    yield
    for raw in Raw.opened:
        raw.writer.transport.abort()
    Raw.opened.clear()
    await asyncio.sleep(0)


@pytest.fixture
def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The ERROR (and worse) records logged during the test: each case must leave none."""
    caplog.set_level(logging.INFO)
    return caplog.records  # filtered by the assertion helper below


def assert_no_errors(records: list[logging.LogRecord]) -> None:
    """No ERROR record, and nothing that looks like a 500."""
    bad = [r for r in records if r.levelno >= logging.ERROR]
    assert not bad, [(r.name, r.getMessage()) for r in bad]


async def assert_still_serving(client: Client) -> None:
    """Plain HTTP and a websocket echo still work."""
    assert (await client.get("/hello/")).status == 200
    async with client.ws_connect("/ws/echo/") as ws:
        assert await ws.receive_str() == "-"
        await ws.send_str("still here")
        assert await ws.receive_str() == "still here"


def test_corpus_size(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints how many hostile inputs this suite sends (handshakes, frame cases, scenarios)."""
    scenarios = [name for name in globals() if name.startswith("test_scenario_")]
    total = len(HANDSHAKES) + len(FRAMES) + len(scenarios)
    with capsys.disabled():
        print(
            f"\nhostile websocket corpus: {len(HANDSHAKES)} handshakes, {len(FRAMES)} frame "
            f"cases, {len(scenarios)} scenarios = {total}"
        )
    assert len(HANDSHAKES) >= 10 and len(FRAMES) >= 15 and len(scenarios) >= 5


@pytest.mark.parametrize("case", HANDSHAKES, ids=lambda c: c.name)
async def test_bad_handshake(
    aio_client: Client, case: Handshake, errors: list[logging.LogRecord]
) -> None:
    """Each bad handshake gets its 4xx, no upgrade; the server still serves."""
    raw = await Raw.open(port_of(aio_client))
    status, headers = await raw.request(case.request(port_of(aio_client)))
    await raw.finish()
    assert status == case.status
    assert "sec-websocket-accept" not in headers
    if case.status == 426 and "version" in case.name:
        assert headers["sec-websocket-version"] == "13"
    await assert_still_serving(aio_client)
    assert_no_errors(errors)


@pytest.mark.parametrize("case", FRAMES, ids=lambda c: c.name)
async def test_hostile_frames(
    aio_client: Client, settings: Any, case: Frames, errors: list[logging.LogRecord]
) -> None:
    """Each hostile frame sequence closes with its code (or, at the limit, is served)."""
    settings.AIODJANGO_WS_MAX_MESSAGE_SIZE = LIMIT
    raw = await Raw.open(port_of(aio_client))
    offer = "Sec-WebSocket-Extensions: permessage-deflate" if case.deflate else ""
    status, headers = await raw.request(handshake(port_of(aio_client), extra=offer))
    assert status == 101
    assert ("sec-websocket-extensions" in headers) == case.deflate
    assert await raw.read_frame() == (0x1, b"-")
    raw.writer.write(case.data())
    if case.code is None:
        assert await raw.read_frame() == (0x2, case.echo)
    else:
        assert await raw.close_code() == case.code
    await raw.finish()
    await assert_still_serving(aio_client)
    assert_no_errors(errors)


async def test_scenario_frames_split_anywhere_are_judged_whole(
    aio_client: Client, settings: Any, errors: list[logging.LogRecord]
) -> None:
    """Masked frames of every header size, sent a byte at a time, echo; then an unmasked one
    split the same way is refused with 1002: the guard follows frame boundaries across reads."""
    settings.AIODJANGO_WS_MAX_MESSAGE_SIZE = 70_000
    raw = await Raw.open(port_of(aio_client))
    assert await raw.upgrade(port_of(aio_client)) == 101
    assert await raw.read_frame() == (0x1, b"-")
    for size in (0, 5, 125, 126, 300, 65_535, 65_536):
        data = frame(0x2, bytes([size % 251]) * size)
        split = min(len(data), 16)  # the header and the mask key, one byte per read
        for i in range(split):
            raw.writer.write(data[i : i + 1])
            await raw.writer.drain()
            await asyncio.sleep(0.002)
        raw.writer.write(data[split:])
        assert await raw.read_frame() == (0x2, bytes([size % 251]) * size)
    bad = frame(0x1, b"x" * 300, mask=False)
    raw.writer.write(bad[:1])  # the mask bit is in the second byte, the next read
    await raw.writer.drain()
    await asyncio.sleep(0.002)
    raw.writer.write(bad[1:])
    assert await raw.close_code() == CLOSE_PROTOCOL_ERROR
    await raw.finish()
    await assert_still_serving(aio_client)
    assert_no_errors(errors)


async def test_scenario_frames_in_the_handshake_packet_are_judged(
    aio_client: Client, errors: list[logging.LogRecord]
) -> None:
    """Frames sent in the same write as the handshake, before its answer: a masked one is
    echoed; an unmasked one closes with 1002 after the 101, and reaches no handler."""
    port = port_of(aio_client)
    raw = await Raw.open(port)
    raw.writer.write(handshake(port) + frame(0x2, b"early"))
    status, _ = await asyncio.wait_for(raw.request(b""), LIVENESS)
    assert status == 101
    assert await raw.read_frame() == (0x1, b"-")
    assert await raw.read_frame() == (0x2, b"early")
    await raw.finish()

    raw = await Raw.open(port)
    raw.writer.write(handshake(port) + frame(0x2, b"ok") + frame(0x2, b"early", mask=False))
    status, _ = await asyncio.wait_for(raw.request(b""), LIVENESS)
    assert status == 101
    frames = []
    while (found := await raw.read_frame())[0] != 0x8:
        frames.append(found)
    assert frames == []  # closed as the handler starts: not even the masked frame echoed
    assert int.from_bytes(found[1][:2], "big") == CLOSE_PROTOCOL_ERROR
    await raw.finish()
    await assert_still_serving(aio_client)
    assert_no_errors(errors)


async def test_scenario_ping_flood_while_reading(
    aio_client: Client, errors: list[logging.LogRecord]
) -> None:
    """10,000 pings in one write, read back: 10,000 pongs, then the socket still echoes."""
    raw = await Raw.open(port_of(aio_client))
    assert await raw.upgrade(port_of(aio_client)) == 101
    assert await raw.read_frame() == (0x1, b"-")
    raw.writer.write(b"".join(frame(0x9, i.to_bytes(4, "big")) for i in range(10_000)))
    for i in range(10_000):
        assert await raw.read_frame() == (0xA, i.to_bytes(4, "big"))
    raw.writer.write(frame(0x1, b"after"))
    assert await raw.read_frame() == (0x1, b"after")
    await raw.finish()
    await assert_still_serving(aio_client)
    assert_no_errors(errors)


async def test_scenario_ping_flood_never_reading(
    aio_client: Client, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A peer that floods pings and reads no pong fills its send buffer and is dropped."""
    settings.AIODJANGO_WS_SEND_TIMEOUT = 0.5
    caplog.set_level(logging.INFO)
    raw = await Raw.open(port_of(aio_client))
    raw.writer.transport.set_write_buffer_limits(high=2**24)
    assert await raw.upgrade(port_of(aio_client)) == 101
    pings = b"".join(frame(0x9, b"p" * 125) for _ in range(2_000))
    dropped = False
    for _ in range(2_000):  # ~250 KiB a round, until the server hangs up
        try:
            raw.writer.write(pings)
            await asyncio.wait_for(raw.writer.drain(), LIVENESS)
        except ConnectionError:
            dropped = True
            break
        if any("dropped" in r.getMessage() for r in caplog.records):
            dropped = True
            break
        await asyncio.sleep(0.01)
    assert dropped
    await raw.finish()
    await assert_still_serving(aio_client)
    assert_no_errors(caplog.records)


@pytest.mark.parametrize("configured", [None, 65536], ids=["default", "65536"])
async def test_scenario_kernel_send_buffer_is_capped(
    aio_client: Client, aio_app: Any, settings: Any, configured: int | None
) -> None:
    """Each websocket's kernel send buffer is capped (AIODJANGO_WS_SEND_BUFFER, 256 KiB by
    default), so a peer that stops reading cannot make Linux grow it to megabytes."""
    if configured is not None:
        settings.AIODJANGO_WS_SEND_BUFFER = configured
    async with aio_client.ws_connect("/ws/echo/") as ws:
        assert await ws.receive_str() == "-"
        [server_ws] = aio_app[WEBSOCKETS_KEY].sockets
        sock = server_ws[WS_REQUEST_KEY].transport.get_extra_info("socket")
        size = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    assert size == 2 * (configured or 2**18)  # Linux reserves twice what was asked


async def _stalled_flood(port: int) -> Raw:
    """A socket to /ws/flood/ whose client never reads (small receive buffer)."""
    raw = await Raw.open(port)
    sock = raw.writer.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    cast(
        asyncio.Transport, raw.writer.transport
    ).pause_reading()  # stop reading: the kernel buffers fill up
    raw.writer.write(handshake(port, "/ws/flood/"))
    await raw.writer.drain()
    return raw


async def test_scenario_stalled_reader_is_dropped(
    aio_client: Client, aio_app: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A peer that stops reading while the handler writes is dropped with a logged reason;
    its send buffer stays bounded and another client is served meanwhile."""
    settings.AIODJANGO_WS_SEND_TIMEOUT = 0.5
    caplog.set_level(logging.DEBUG, logger="aiodjango.websocket")
    ws_views.FLOOD["done"] = asyncio.Event()
    raw = await _stalled_flood(port_of(aio_client))
    async with aio_client.ws_connect("/ws/echo/") as other:
        assert await other.receive_str() == "-"
        for i in range(20):  # served while the flood handler is blocked on its stalled peer
            await other.send_str(f"m{i}")
            assert await other.receive_str() == f"m{i}"
        await asyncio.wait_for(ws_views.FLOOD["done"].wait(), LIVENESS)
    # aiohttp's test server cancels the handler of a lost connection; without that its send
    # raises ConnectionResetError: either way the handler is released.
    assert isinstance(ws_views.FLOOD["error"], ConnectionError | asyncio.CancelledError)
    [drop] = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert drop.levelno == logging.WARNING and "AIODJANGO_WS_SEND_TIMEOUT" in drop.getMessage()
    assert isinstance(drop.args, tuple)
    unsent = drop.args[2]
    # The transport's high-water mark (64 KiB) + aiohttp's writer limit (256 KiB) + one frame.
    assert isinstance(unsent, int) and 0 < unsent <= 6 * 65536
    assert not [r for r in caplog.records if "handler error" in r.getMessage()]
    raw.writer.transport.abort()
    assert not aio_app[WEBSOCKETS_KEY].sockets
    await assert_still_serving(aio_client)
    assert_no_errors(caplog.records)


async def test_scenario_shutdown_with_a_stalled_peer_finishes(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Shutdown closes a socket whose peer reads nothing: the close is bounded, then aborted."""
    settings.AIODJANGO_WS_SEND_TIMEOUT = None  # only the close bound may end it
    settings.AIODJANGO_WS_CLOSE_TIMEOUT = 0.5
    caplog.set_level(logging.INFO, logger="aiodjango.websocket")
    app = get_aio_application()
    ws_views.FLOOD["done"] = asyncio.Event()
    async with serve(app) as client:
        raw = await _stalled_flood(port_of(client))
        for _ in range(1000):  # until the handler runs and is blocked on the full buffer
            if app[WEBSOCKETS_KEY].sockets:
                break
            await asyncio.sleep(0.01)
        assert app[WEBSOCKETS_KEY].sockets
        await asyncio.sleep(0.2)
        await asyncio.wait_for(client.server.close(), LIVENESS)  # on_shutdown: close all
    await asyncio.wait_for(ws_views.FLOOD["done"].wait(), LIVENESS)
    assert not app[WEBSOCKETS_KEY].sockets
    assert any("timed out" in r.getMessage() for r in caplog.records)
    raw.writer.transport.abort()
    assert_no_errors(caplog.records)


@pytest.mark.parametrize("cancellation", [True, False], ids=["cancelled", "write-fails"])
async def test_scenario_client_vanishes_mid_send(
    caplog: pytest.LogCaptureFixture, cancellation: bool
) -> None:
    """Clients leaving while their handler writes are ordinary ends: no ERROR, no traceback,
    whether aiohttp cancels the handler or its next write fails."""
    caplog.set_level(logging.DEBUG)
    app = get_aio_application()
    async with contextlib.AsyncExitStack() as stack:
        if cancellation:
            port = (await stack.enter_async_context(serve(app))).port
        else:
            port = await stack.enter_async_context(served_without_cancellation(app))
        assert port is not None
        for _ in range(5):
            ws_views.FLOOD["done"] = asyncio.Event()
            raw = await Raw.open(port)
            assert await raw.upgrade(port, "/ws/flood/") == 101
            await raw.read_frame()
            raw.writer.transport.abort()
            await asyncio.wait_for(ws_views.FLOOD["done"].wait(), LIVENESS)
            expected = asyncio.CancelledError if cancellation else ConnectionError
            assert isinstance(ws_views.FLOOD["error"], expected)
        raw = await Raw.open(port)
        assert await raw.upgrade(port) == 101
        assert await raw.read_frame() == (0x1, b"-")
        await raw.finish()
    assert not [r for r in caplog.records if "handler error" in r.getMessage()]
    if not cancellation:
        assert [r for r in caplog.records if "went away" in r.getMessage()]
    assert_no_errors(caplog.records)


async def test_scenario_unmasked_frame_with_aiohttp_after(
    aio_client: Client, errors: list[logging.LogRecord]
) -> None:
    """After refusing an unmasked frame the server's other sockets are unaffected."""
    async with aio_client.ws_connect("/ws/echo/") as good:
        assert await good.receive_str() == "-"
        raw = await Raw.open(port_of(aio_client))
        assert await raw.upgrade(port_of(aio_client)) == 101
        await raw.read_frame()
        raw.writer.write(frame(0x1, b"x", mask=False))
        assert await raw.close_code() == CLOSE_PROTOCOL_ERROR
        await raw.finish()
        await good.send_str("fine")
        msg = await good.receive()
        assert (msg.type, msg.data) == (WSMsgType.TEXT, "fine")
    assert_no_errors(errors)
