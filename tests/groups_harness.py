"""Servers and clients the group tests share: a hand-built aiohttp app per "worker"."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer
from websockets.asyncio.client import ClientConnection, connect

from aiodjango.groups import GROUPS_KEY, GroupBackend, setup_groups

__all__ = ("SlowClient", "join", "recv_all", "wait_for", "worker")


async def _join_handler(request: web.Request) -> web.WebSocketResponse:
    """Joins the ``group`` query arguments, says "joined", then serves "leave:<group>"."""
    backend = request.app[GROUPS_KEY]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    for group in request.query.getall("group"):
        await backend.add(group, ws)
    await ws.send_str("joined")
    async for msg in ws:  # membership ends by itself when this returns: no discard here
        if msg.type is WSMsgType.TEXT and msg.data.startswith("leave:"):
            await backend.discard(msg.data.removeprefix("leave:"), ws)
            await ws.send_str("left")
    return ws


@asynccontextmanager
async def worker(backend: GroupBackend) -> AsyncIterator[TestServer]:
    """A real aiohttp server on 127.0.0.1 whose app runs ``backend`` (one "worker")."""
    app = web.Application()
    setup_groups(app, backend)
    app.router.add_get("/join", _join_handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def _path(*groups: str) -> str:
    return "/join?" + "&".join(f"group={group}" for group in groups)


@asynccontextmanager
async def join(server: TestServer, *groups: str) -> AsyncIterator[ClientConnection]:
    """A ``websockets`` client that has joined ``groups`` (the server said so)."""
    url = f"ws://127.0.0.1:{server.port}{_path(*groups)}"
    async with connect(url, proxy=None, max_size=None) as ws:
        assert await ws.recv() == "joined"
        yield ws


class SlowClient:
    """A websocket client that reads nothing until asked: a tiny receive buffer, raw frames.

    ``websockets`` and aiohttp read ahead into their own buffers, so a peer that really stops
    reading is written by hand: the handshake, then unmasked server frames parsed on demand.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def join(cls, server: TestServer, *groups: str) -> SlowClient:
        """Connect, upgrade, and wait for "joined"."""
        client = await cls.open(server.port or 0, _path(*groups))
        assert await client.frame() == (1, b"joined")
        return client

    @classmethod
    async def open(cls, port: int, path: str) -> SlowClient:
        """Connect to 127.0.0.1:``port`` and upgrade ``path`` (no frame read yet)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # no kernel read-ahead
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def frame(self) -> tuple[int, bytes]:
        """The next frame's opcode and payload (1 text, 2 binary, 8 close)."""
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        return first & 0x0F, await self.reader.readexactly(length)

    def close(self) -> None:
        """Drop the connection."""
        self.writer.close()


async def recv_all(ws: ClientConnection, count: int) -> list[str | bytes]:
    """The next ``count`` messages of ``ws``."""
    return [await ws.recv() for _ in range(count)]


async def wait_for(condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Polls ``condition`` until it holds (fails after 10 s, naming ``what``)."""
    for _ in range(1000):
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"Timed out waiting until {what}")
