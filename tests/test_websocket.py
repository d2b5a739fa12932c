"""Websocket views over real loopback connections, with aiohttp's client and ``websockets``."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import redis
import websockets
from aiohttp import WSMsgType, web
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, Template
from django.urls import reverse
from websockets.typing import Origin, Subprotocol

from aiodjango import get_aio_application
from aiodjango.checks import check_settings
from aiodjango.conf import conf
from aiodjango.dispatch import wrap_view
from aiodjango.registry import get_view_def
from aiodjango.testing import serve
from aiodjango.websocket import (
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL_ERROR,
    CLOSE_MESSAGE_TOO_BIG,
    WEBSOCKETS_KEY,
    close_user_websockets,
)

from . import ws_views
from .helpers import Client, close_code, ws_connect
from .serving.harness import free_port


async def test_echo_with_aiohttp_client(aio_client: Client) -> None:
    """A URLconf websocket view gets a prepared ws: text and binary messages echo back."""
    async with aio_client.ws_connect("/ws/echo/") as ws:
        assert await ws.receive_str() == "-"
        await ws.send_str("héllo")
        assert await ws.receive_str() == "héllo"
        await ws.send_bytes(b"\x00\xff")
        assert await ws.receive_bytes() == b"\x00\xff"


async def test_echo_with_websockets_client(aio_client: Client) -> None:
    """An independent client (the ``websockets`` package) speaks to the same view."""
    async with ws_connect(aio_client, "/ws/echo/") as ws:
        assert await ws.recv() == "-"
        await ws.send("ping")
        assert await ws.recv() == "ping"


async def test_handler_return_closes_normally(aio_client: Client) -> None:
    """When the handler returns, the framework closes the socket with 1000."""
    async with aio_client.ws_connect("/ws/once/") as ws:
        assert await ws.receive_str() == "bye"
        msg = await ws.receive()
        assert (msg.type, msg.data) == (WSMsgType.CLOSE, 1000)
    async with ws_connect(aio_client, "/ws/once/") as client:
        assert await client.recv() == "bye"
        assert await close_code(client) == 1000


async def test_write_after_close_is_not_an_error(
    aio_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler writing after the peer closed ends quietly: no 1011, nothing on django.request."""
    async with aio_client.ws_connect("/ws/late/") as ws:
        await ws.send_str("x")
        assert await ws.receive_str() == "x"
    assert ws.close_code == 1000
    async with ws_connect(aio_client, "/ws/once/") as client:  # the late writer has finished
        assert await client.recv() == "bye"
    assert not [r for r in caplog.records if r.name == "django.request"]


async def test_websocket_view_in_a_plain_aiohttp_app(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> None:
    """wrap_view() also serves a websocket view in an app without aiodjango's tracker."""
    view_def = get_view_def(ws_views.echo)
    assert view_def is not None
    app = web.Application()
    app.router.add_route("*", "/echo", wrap_view(view_def, max_body_size=None))
    client = await aiohttp_client(app)
    async with client.ws_connect("/echo") as ws:
        assert await ws.receive_str() == "-"
        await ws.send_str("plain")
        assert await ws.receive_str() == "plain"


async def test_registry_view_with_url_argument(aio_client: Client) -> None:
    """A registry pattern view: reverse() builds its path and the handler sees its argument."""
    path = reverse("ws-room", kwargs={"room": "lobby"})
    assert path == "/ws/room/lobby/"
    async with aio_client.ws_connect(path) as ws:
        assert await ws.receive_str() == "room lobby"


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(["chat.v1"], "chat.v1"), (["chat.v2", "chat.v1"], "chat.v2"), (["other"], None)],
)
async def test_subprotocol_negotiation(
    aio_client: Client, offered: list[str], chosen: str | None
) -> None:
    """The first offered subprotocol the view supports is chosen; none when nothing overlaps."""
    async with aio_client.ws_connect("/ws/echo/", protocols=offered) as ws:
        assert ws.protocol == chosen
        assert await ws.receive_str() == (chosen or "-")
    if chosen is not None:  # websockets refuses a handshake that picks none of its offers
        async with ws_connect(
            aio_client, "/ws/echo/", subprotocols=[Subprotocol(p) for p in offered]
        ) as client:
            assert client.subprotocol == chosen


async def test_plain_get_is_426(aio_client: Client) -> None:
    """A GET without an upgrade gets 426 Upgrade Required, naming websocket."""
    response = await aio_client.get("/ws/echo/")
    assert response.status == 426
    assert response.headers["Upgrade"] == "websocket"
    assert "websocket endpoint" in await response.text()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD"])
async def test_other_methods_are_405(aio_client: Client, method: str) -> None:
    """Only GET can open a websocket; other methods get 405 with Allow: GET."""
    response = await aio_client.request(method, "/ws/echo/")
    assert response.status == 405
    assert response.headers["Allow"] == "GET"


async def test_broken_handshake_is_400(aio_client: Client) -> None:
    """An upgrade request with no Sec-WebSocket-Key is a 400."""
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}
    response = await aio_client.get("/ws/echo/", headers=headers)
    assert response.status == 400


async def test_evil_origin_refused_and_logged(
    aio_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A cross-site handshake is refused with 403 before the upgrade, logged with the origin."""
    with caplog.at_level(logging.WARNING, logger="aiodjango.websocket"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await aio_client.ws_connect("/ws/echo/", origin="https://evil.example")
        assert info.value.status == 403
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with ws_connect(aio_client, "/ws/echo/", origin=Origin("https://evil.example")):
                pass
        assert refused.value.response.status_code == 403
    records = [r for r in caplog.records if r.name == "aiodjango.websocket"]
    assert len(records) == 2
    assert "'https://evil.example'" in records[0].getMessage()
    assert "ALLOWED_HOSTS" in records[0].getMessage()
    assert records[0].origin == "https://evil.example"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("origin", "setting", "value"),
    [
        (None, None, None),
        ("own", None, None),
        ("http://localhost:8123", None, None),
        ("https://trusted.example", "CSRF_TRUSTED_ORIGINS", ["https://trusted.example"]),
        ("https://app.trusted.example", "CSRF_TRUSTED_ORIGINS", ["https://*.trusted.example"]),
        ("https://partner.example", "AIODJANGO_WS_ALLOWED_ORIGINS", ["https://partner.example"]),
        ("https://anything.example", "AIODJANGO_WS_ALLOWED_ORIGINS", ["*"]),
        ("http://app.localhost:3000", "DEBUG", True),
    ],
)
async def test_allowed_origins(
    aio_client: Client,
    settings: Any,
    origin: str | None,
    setting: str | None,
    value: object,
) -> None:
    """No Origin, the own host, ALLOWED_HOSTS, trusted origins and the setting may connect."""
    if setting == "DEBUG":  # DEBUG with no ALLOWED_HOSTS: Django's localhost defaults
        settings.ALLOWED_HOSTS = []
    if setting is not None:
        setattr(settings, setting, value)
    if origin == "own":
        origin = f"http://127.0.0.1:{aio_client.port}"
    async with aio_client.ws_connect("/ws/echo/", origin=origin) as ws:
        assert await ws.receive_str() == "-"
    async with ws_connect(aio_client, "/ws/echo/", origin=Origin(origin) if origin else None) as c:
        assert await c.recv() == "-"


@pytest.mark.parametrize(
    ("origin", "allowed_hosts", "trusted"),
    [
        ("null", None, []),
        ("https://evil.example", ["*"], []),
        ("http://127.0.0.1.evil.example", None, []),
        ("http://trusted.example", None, ["https://trusted.example"]),
        ("https://trusted.example.evil", None, ["https://*.trusted.example"]),
        ("https://evil.example:99999", None, []),
    ],
)
async def test_refused_origins(
    aio_client: Client,
    settings: Any,
    origin: str,
    allowed_hosts: list[str] | None,
    trusted: list[str],
) -> None:
    """Opaque, look-alike, wrong-scheme and malformed origins are refused; ALLOWED_HOSTS=['*']
    does not open the door."""
    if allowed_hosts is not None:
        settings.ALLOWED_HOSTS = allowed_hosts
    settings.CSRF_TRUSTED_ORIGINS = trusted
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await aio_client.ws_connect("/ws/echo/", origin=origin)
    assert info.value.status == 403


async def test_default_size_limit_closes_with_1009(aio_client: Client) -> None:
    """A message of exactly 1 MiB echoes; one byte more closes the socket with 1009."""
    limit = 2**20
    assert limit == conf.WS_MAX_MESSAGE_SIZE
    async with aio_client.ws_connect("/ws/echo/", max_msg_size=0) as ws:
        await ws.receive_str()
        payload = os.urandom(limit)
        await ws.send_bytes(payload)
        assert await ws.receive_bytes() == payload
        await ws.send_bytes(os.urandom(limit + 1))
        msg = await ws.receive()
        assert (msg.type, msg.data) == (WSMsgType.CLOSE, CLOSE_MESSAGE_TOO_BIG)
    async with ws_connect(aio_client, "/ws/echo/") as client:
        await client.recv()
        await client.send(os.urandom(limit + 1))
        assert await close_code(client) == CLOSE_MESSAGE_TOO_BIG


async def test_size_limit_setting(aio_client: Client, settings: Any) -> None:
    """AIODJANGO_WS_MAX_MESSAGE_SIZE sets the limit."""
    settings.AIODJANGO_WS_MAX_MESSAGE_SIZE = 10
    # Uncompressed: deflate would make a 10-byte message's frame longer than the limit.
    async with ws_connect(aio_client, "/ws/echo/", compression=None) as client:
        await client.recv()
        await client.send("0123456789")
        assert await client.recv() == "0123456789"
        await client.send("0123456789!")
        assert await close_code(client) == CLOSE_MESSAGE_TOO_BIG


async def test_handler_exception_closes_with_1011_and_logs(
    aio_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler that raises closes the socket with 1011; the traceback goes to django.request."""
    with caplog.at_level(logging.ERROR, logger="django.request"):
        async with aio_client.ws_connect("/ws/boom/") as ws:
            await ws.send_str("go")
            msg = await ws.receive()
            assert (msg.type, msg.data) == (WSMsgType.CLOSE, CLOSE_INTERNAL_ERROR)
        async with ws_connect(aio_client, "/ws/boom/") as client:
            await client.send("go")
            assert await close_code(client) == CLOSE_INTERNAL_ERROR
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 2
    assert records[0].exc_info is not None
    assert "websocket boom" in str(records[0].exc_info[1])
    assert "/ws/boom/" in records[0].getMessage()


async def test_shutdown_closes_every_socket_with_1001() -> None:
    """The application's on_shutdown closes all open sockets with 1001 (both clients see it)."""
    app = get_aio_application()
    async with serve(app) as client:
        aio_ws = await client.ws_connect("/ws/echo/")
        assert await aio_ws.receive_str() == "-"
        async with ws_connect(client, "/ws/echo/") as other:
            assert await other.recv() == "-"
            assert len(app[WEBSOCKETS_KEY].sockets) == 2
            closing = asyncio.create_task(client.server.close())
            msg = await aio_ws.receive()
            assert (msg.type, msg.data) == (WSMsgType.CLOSE, CLOSE_GOING_AWAY)
            assert await close_code(other) == CLOSE_GOING_AWAY
            await closing
        await aio_ws.close()
    assert not app[WEBSOCKETS_KEY].sockets


async def test_tracker_forgets_closed_sockets(aio_client: Client, aio_app: web.Application) -> None:
    """Each application tracks its open sockets and forgets them when their handler ends."""
    tracker = aio_app[WEBSOCKETS_KEY]
    async with aio_client.ws_connect("/ws/echo/") as ws:
        await ws.receive_str()
        assert len(tracker.sockets) == 1
    for _ in range(1000):  # the handler finishes just after the client's close (10 s at most)
        if not tracker.sockets:
            break
        await asyncio.sleep(0.01)
    assert not tracker.sockets
    assert "0 open" in repr(tracker)


async def test_heartbeat_drops_a_dead_peer(aio_client: Client, settings: Any) -> None:
    """A peer that never answers pings is dropped (the handler sees 1006)."""
    settings.AIODJANGO_WS_HEARTBEAT = 0.2
    reader, writer = await asyncio.open_connection("127.0.0.1", aio_client.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws/recorder/ HTTP/1.1\r\nHost: 127.0.0.1:{aio_client.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    received = await asyncio.wait_for(reader.read(), 30)  # until the server hangs up
    writer.close()
    await writer.wait_closed()
    assert received.startswith(b"\x81\x05ready")
    assert b"\x89\x00" in received  # the unanswered ping
    await asyncio.wait_for(ws_views.LAST_CLOSE["done"].wait(), 30)
    assert ws_views.LAST_CLOSE["code"] == 1006


async def test_heartbeat_keeps_a_peer_that_answers(aio_client: Client, settings: Any) -> None:
    """An idle peer that answers pings stays open over many intervals, and still echoes."""
    settings.AIODJANGO_WS_HEARTBEAT = 0.1
    url = f"ws://127.0.0.1:{aio_client.port}/ws/recorder/"
    async with websockets.connect(url, proxy=None, ping_interval=None) as ws:
        assert await ws.recv() == "ready"
        await asyncio.sleep(1.0)  # ten intervals of silence but for the pongs
        await ws.send("still here")
        assert await ws.recv() == "still here"
    await asyncio.wait_for(ws_views.LAST_CLOSE["done"].wait(), 30)
    assert ws_views.LAST_CLOSE["code"] == 1000


def test_heartbeat_is_on_by_default(settings: Any) -> None:
    """Heartbeat defaults to 20 s; None turns it off."""
    assert conf.WS_HEARTBEAT == 20.0
    settings.AIODJANGO_WS_HEARTBEAT = None
    assert conf.WS_HEARTBEAT is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AIODJANGO_WS_ALLOWED_ORIGINS", "https://a.example"),
        ("AIODJANGO_WS_ALLOWED_ORIGINS", ["a.example"]),
        ("AIODJANGO_WS_MAX_MESSAGE_SIZE", -1),
        ("AIODJANGO_WS_HEARTBEAT", 0),
        ("AIODJANGO_WS_HEARTBEAT", "20"),
        ("AIODJANGO_TOKEN_AUTHENTICATOR", 42),
        ("AIODJANGO_TOKEN_AUTHENTICATOR", "tests.ws_views.missing"),
        ("AIODJANGO_TOKEN_AUTHENTICATOR", "tests.ws_views.LAST_CLOSE"),
    ],
)
def test_bad_settings_are_e003(settings: Any, name: str, value: object) -> None:
    """Each websocket/auth setting is validated by check_settings (E003) and raises on use."""
    setattr(settings, name, value)
    messages = check_settings(None)
    assert [m.id for m in messages] == ["aiodjango.E003"]
    assert name in messages[0].msg
    with pytest.raises(ImproperlyConfigured):
        getattr(conf, name.removeprefix("AIODJANGO_"))


async def test_reverse_ws_for_aiohttp_request(aio_client: Client, settings: Any) -> None:
    """reverse_ws() on an aiohttp request: ws://, or wss:// behind SECURE_PROXY_SSL_HEADER."""
    response = await aio_client.get("/aio/ws-link/", headers={"X-Forwarded-Proto": "https"})
    assert await response.text() == f"ws://127.0.0.1:{aio_client.port}/ws/room/lobby/"
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = await aio_client.get("/aio/ws-link/", headers={"X-Forwarded-Proto": "https"})
    assert await response.text() == f"wss://127.0.0.1:{aio_client.port}/ws/room/lobby/"


@pytest.mark.parametrize("path", ["/dj/ws-link/", "/dj/ws-link-template/"])
async def test_reverse_ws_and_tag_for_django_request(
    aio_client: Client, settings: Any, path: str
) -> None:
    """reverse_ws() and {% ws_url %} in Django views give wss:// behind the proxy header."""
    expected = {"/dj/ws-link/": "/ws/echo/", "/dj/ws-link-template/": "/ws/room/lobby/"}[path]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    plain = await (await aio_client.get(path)).text()
    assert plain.strip() == f"ws://127.0.0.1:{aio_client.port}{expected}"
    proxied = await aio_client.get(path, headers={"X-Forwarded-Proto": "https"})
    assert (await proxied.text()).strip() == f"wss://127.0.0.1:{aio_client.port}{expected}"


def test_ws_url_tag_without_request() -> None:
    """{% ws_url %} without a request in the context names the missing context processor."""
    template = Template('{% load aiodjango %}{% ws_url "ws-echo" %}')
    with pytest.raises(ImproperlyConfigured, match="context_processors.request"):
        template.render(Context({}))


def test_logout_goes_on_when_the_groups_backend_is_unreachable(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """close_user_websockets() with Redis down: the failed control message is logged, not raised
    (Redis on a port nothing listens on; the user is an unsaved User, no database needed)."""
    settings.AIODJANGO_GROUPS = {
        "BACKEND": "aiodjango.backends.redis.RedisBackend",
        "URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    with caplog.at_level(logging.ERROR, "aiodjango.websocket"):
        close_user_websockets(User(pk=42, username="gone"))
    [record] = [r for r in caplog.records if r.name == "aiodjango.websocket"]
    assert "close user 42's websockets" in record.getMessage()
    assert "closed them in this process only" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], redis.ConnectionError)
