"""Websocket and authentication views of the test project."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import WSMsgType, web
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.csrf import csrf_exempt

from aiodjango import async_view, get_user, login_required, reverse_ws

# What the server side of the last socket saw, for tests that need it.
LAST_CLOSE: dict[str, Any] = {"code": None, "done": asyncio.Event()}


async def _echo_until_closed(ws: web.WebSocketResponse) -> None:
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type is WSMsgType.BINARY:
            await ws.send_bytes(msg.data)


@async_view(websocket=True, protocols=("chat.v2", "chat.v1"))
async def echo(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Sends the negotiated subprotocol (or "-"), then echoes every message."""
    await ws.send_str(ws.ws_protocol or "-")
    await _echo_until_closed(ws)


@async_view("ws/room/<slug:room>/", name="ws-room", websocket=True)
async def room(request: web.Request, ws: web.WebSocketResponse) -> None:
    """A registry websocket view with a URL argument: greets with the room's name."""
    await ws.send_str(f"room {request.match_info['room']}")
    await _echo_until_closed(ws)


@async_view(websocket=True, protocols=("chat.v1",))
async def whoami(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Sends the user's name ("anonymous" if none), then waits for the close."""
    user = await get_user(request)
    await ws.send_str(user.get_username() if user.is_authenticated else "anonymous")
    await _echo_until_closed(ws)


@async_view(websocket=True)
@login_required
async def private(request: web.Request, ws: web.WebSocketResponse) -> None:
    """A websocket only logged-in users may open."""
    user = await get_user(request)
    await ws.send_str(f"private {user.get_username()}")
    await _echo_until_closed(ws)


@async_view(websocket=True)
async def once(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Sends one message and returns: the framework closes the socket."""
    await ws.send_str("bye")


@async_view(websocket=True)
async def boom(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Fails on the first message."""
    await ws.receive()
    raise RuntimeError("websocket boom")


@async_view(websocket=True)
async def recorder(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Records the close code it ends with (e.g. 1006 when the heartbeat drops a dead peer)."""
    LAST_CLOSE["code"] = None
    LAST_CLOSE["done"] = done = asyncio.Event()
    try:
        await ws.send_str("ready")
        await _echo_until_closed(ws)
    finally:  # test servers cancel the handler of a dropped connection
        LAST_CLOSE["code"] = ws.close_code
        done.set()


@async_view
async def whoami_http(request: web.Request) -> web.Response:
    """An async HTTP view naming the user."""
    user = await get_user(request)
    return web.Response(text=user.get_username() if user.is_authenticated else "anonymous")


@async_view
@login_required
async def private_http(request: web.Request) -> web.Response:
    """An async HTTP view only logged-in users may see."""
    return web.Response(text=f"private {(await get_user(request)).get_username()}")


@async_view
@login_required(login_url="/elsewhere/", redirect_field_name="back")
async def private_elsewhere(request: web.Request) -> web.Response:
    """login_required with its own login URL and field name."""
    return web.Response(text="private")


@async_view
@login_required(login_url="https://sso.example/login/")
async def private_sso(request: web.Request) -> web.Response:
    """login_required sending users to another site's login page."""
    return web.Response(text="private")


@async_view(websocket=True)
async def late_writer(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Writes after the client closed: the framework treats that as the normal end."""
    await _echo_until_closed(ws)
    await ws.send_str("too late")


async def django_whoami(request: HttpRequest) -> HttpResponse:
    """A Django-native async view (served by Django) using aiodjango's get_user()."""
    user = await get_user(request)
    return HttpResponse(user.get_username() if user.is_authenticated else "anonymous")


@async_view
async def post_form(request: web.Request) -> web.Response:
    """A CSRF-protected async view reading the form it was posted."""
    data = await request.post()
    return web.Response(text=f"posted {data.get('text', '')}")


@async_view
@csrf_exempt
async def exempt_form(request: web.Request) -> web.Response:
    """A CSRF-exempt async view (token-authenticated APIs)."""
    return web.Response(text=f"exempt {len(await request.read())}")


@async_view
async def ws_link(request: web.Request) -> web.Response:
    """An async view returning reverse_ws() for an aiohttp request."""
    return web.Response(text=reverse_ws(request, "ws-room", kwargs={"room": "lobby"}))


def ws_link_django(request: HttpRequest) -> HttpResponse:
    """A Django view returning reverse_ws() for a Django request."""
    return HttpResponse(reverse_ws(request, "ws-echo"))


def ws_link_template(request: HttpRequest) -> HttpResponse:
    """A Django view rendering the {% ws_url %} tag."""
    return render(request, "ws_link.html")


# --8<-- [start:token]
def token_for(user: AbstractBaseUser) -> str:
    """A test token: the user's pk and an HMAC of it."""
    return f"{user.pk}-{salted_hmac('tests.token', str(user.pk), algorithm='sha256').hexdigest()}"


async def token_user(request: web.Request) -> AbstractBaseUser | None:
    """Token auth: an "Authorization: Bearer <token>" header or a "token.<token>" subprotocol."""
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    for protocol in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        if protocol.strip().startswith("token."):
            token = protocol.strip().removeprefix("token.")
    pk, _, _ = token.partition("-")
    if not pk.isdigit():
        return None
    user = await get_user_model().objects.filter(pk=int(pk)).afirst()
    return user if user is not None and constant_time_compare(token, token_for(user)) else None


# --8<-- [end:token]


# What the last /ws/flood/ handler saw: the error its sends ended with.
FLOOD: dict[str, Any] = {"error": None, "done": asyncio.Event()}


@async_view(websocket=True)
async def flood(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Writes 64 KiB messages as fast as the peer takes them, until the peer is gone."""
    FLOOD["error"] = None
    FLOOD["done"] = done = asyncio.Event()
    chunk = b"x" * 65536
    try:
        await get_user(request)  # so that logout finds this socket
        while True:
            await ws.send_bytes(chunk)
    except BaseException as exc:
        FLOOD["error"] = exc
        raise  # the framework's to judge: an ordinary end
    finally:
        done.set()


@async_view
@csrf_exempt
async def exempt_fields(request: web.Request) -> web.Response:
    """A CSRF-exempt async view parsing its form with aiohttp's request.post()."""
    data = await request.post()
    return web.Response(text=",".join(sorted(data)))
