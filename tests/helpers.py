"""Helpers the test modules share: the client type, websocket clients, logging in."""

from __future__ import annotations

import contextlib
import re
import socket
import weakref
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import websockets
from aiohttp import web
from aiohttp.test_utils import TestClient
from websockets.asyncio.client import ClientConnection, connect

__all__ = (
    "PASSWORD",
    "Client",
    "close_code",
    "cookie_header",
    "cookies",
    "free_port",
    "log_in",
    "next_frame",
    "port_of",
    "presence_seen",
    "presence_until",
    "served_without_cancellation",
    "ws_connect",
    "ws_url",
)

Client = TestClient[web.Request, web.Application]
PASSWORD = "correct horse battery"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for a subprocess server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_of(client: Client) -> int:
    """The test server's port (``TestClient.port`` is typed optional)."""
    assert client.port is not None
    return client.port


def ws_url(client: Client, path: str) -> str:
    """The ws:// URL of ``path`` on the test server."""
    return "ws" + str(client.make_url(path)).removeprefix("http")


def ws_connect(client: Client, path: str, **kwargs: Any) -> connect:
    """A ``websockets`` client connection (no proxy; no size limit on what it receives)."""
    kwargs.setdefault("max_size", None)
    return connect(ws_url(client, path), proxy=None, **kwargs)


async def close_code(ws: ClientConnection) -> int | None:
    """Waits for the server to close ``ws`` and returns the code it sent."""
    with pytest.raises(websockets.ConnectionClosed) as info:
        while True:
            await ws.recv()
    return info.value.rcvd.code if info.value.rcvd else None


async def log_in(
    client: Client, username: str, session: aiohttp.ClientSession | None = None
) -> None:
    """Logs in through Django's real LoginView (GET the form, POST it with its CSRF token)."""
    session = session or client.session
    page = await session.get(client.make_url("/accounts/login/"))
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', await page.text())
    assert found is not None
    form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": found[1]}
    response = await session.post(
        client.make_url("/accounts/login/"), data=form, allow_redirects=False
    )
    assert response.status == 302, await response.text()


def cookies(client: Client, session: aiohttp.ClientSession | None = None) -> dict[str, str]:
    """The cookies ``session`` holds for the test server."""
    jar = (session or client.session).cookie_jar.filter_cookies(client.make_url("/"))
    return {name: morsel.value for name, morsel in jar.items()}


def cookie_header(client: Client) -> str:
    """The Cookie header a browser would send, for the ``websockets`` client."""
    return "; ".join(f"{k}={v}" for k, v in cookies(client).items())


@contextlib.asynccontextmanager
async def served_without_cancellation(app: web.Application) -> AsyncIterator[int]:
    """``app`` on 127.0.0.1 as a plain ``AppRunner`` serves it, yielding the port.

    Unlike aiohttp's test server, handlers are not cancelled when their client leaves
    (aiohttp's default), so what they do next (read, write) fails instead.
    """
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


# The demo chat's frames. A socket joins its room's group before the server reads the history,
# so presence (and message) frames may come before the history frame: skipped frames of
# presence are kept here, per socket, for the presence helpers.
_presence: weakref.WeakKeyDictionary[aiohttp.ClientWebSocketResponse, list[dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


FRAME_TIMEOUT = 20.0  # seconds: a hang guard for each frame awaited


async def next_frame(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next JSON frame of type ``kind``; presence frames on the way are kept."""
    while True:
        frame: dict[str, Any] = await ws.receive_json(timeout=FRAME_TIMEOUT)
        if frame["type"] == "presence":
            _presence.setdefault(ws, []).append(frame)
        if frame["type"] == kind:
            return frame


async def presence_until(
    ws: aiohttp.ClientWebSocketResponse, users: list[str], newer_than: int = -1
) -> dict[str, Any]:
    """The newest presence frame of ``ws`` (highest version), once it lists ``users`` and its
    version is above ``newer_than``; frames may arrive in any order."""
    while True:
        newest = max(_presence.get(ws, ()), key=lambda f: int(f["version"]), default=None)
        if newest is not None and newest["users"] == users and newest["version"] > newer_than:
            return newest
        await next_frame(ws, "presence")


async def presence_seen(ws: aiohttp.ClientWebSocketResponse, users: list[str]) -> dict[str, Any]:
    """The first presence frame of ``ws`` that listed ``users``, even if newer ones came."""
    while True:
        for frame in _presence.get(ws, ()):
            if frame["users"] == users:
                return frame
        await next_frame(ws, "presence")
