"""Drives the demo project through ``aiodjango.testing.serve`` and prints what it saw, as JSON.

Run by ``tests/test_demo.py`` in a subprocess, because the demo has its own settings
(``DJANGO_SETTINGS_MODULE=demo.settings``) and Django's settings are per process. It migrates a
fresh SQLite database (``DATABASE_URL``), creates the demo users, then logs in as both users
with real HTTP clients, chats over real websockets and calls the JSON API. It records
observations and asserts nothing; the tests assert on them, so a failure names the behaviour.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from typing import Any

import aiohttp
import django
from aiohttp import web
from aiohttp.test_utils import TestClient
from django.core.management import call_command
from yarl import URL

from aiodjango.testing import serve
from tests.helpers import next_frame, presence_seen, presence_until

Client = TestClient[web.Request, web.Application]
TIMEOUT = 20


# --8<-- [start:login]
async def log_in(session: aiohttp.ClientSession, base: str, username: str) -> tuple[int, str]:
    """Log in through Django's LoginView like a browser: GET for the CSRF cookie, then POST."""
    async with session.get(f"{base}/accounts/login/") as page:
        await page.read()
    token = session.cookie_jar.filter_cookies(URL(base))["csrftoken"].value
    form = {"username": username, "password": f"{username}-demo-pw", "csrfmiddlewaretoken": token}
    async with session.post(
        f"{base}/accounts/login/?next=/", data=form, allow_redirects=False
    ) as response:
        return response.status, response.headers.get("Location", "")


# --8<-- [end:login]


async def status_and_location(session: aiohttp.ClientSession, url: str) -> list[Any]:
    """A GET's status and redirect target, without following it."""
    async with session.get(url, allow_redirects=False) as response:
        return [response.status, response.headers.get("Location", "")]


async def get_json(session: aiohttp.ClientSession, url: str) -> list[Any]:
    """A GET's status and JSON body."""
    async with session.get(url) as response:
        return [response.status, await response.json()]


async def close_of(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read until the server closes ``ws``; the code of its close frame (None if it sent none)."""
    while True:
        message = await ws.receive(timeout=TIMEOUT)
        if message.type is aiohttp.WSMsgType.CLOSE:
            return int(message.data)
        if message.type is aiohttp.WSMsgType.CLOSED:
            return None


async def message_and_ack(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The sender's copy of its message and its ack, which may come in either order."""
    found: dict[str, dict[str, Any]] = {}
    while len(found) < 2:
        frame: dict[str, Any] = await ws.receive_json(timeout=TIMEOUT)
        if frame["type"] in ("message", "ack"):
            found[frame["type"]] = frame
    return [found["message"], found["ack"]]


async def probe(client: Client) -> dict[str, Any]:
    """Everything the tests check, gathered in one run against one server."""
    seen: dict[str, Any] = {}
    base = str(client.make_url("")).rstrip("/")
    origin = {"Origin": base}
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with (
        aiohttp.ClientSession(cookie_jar=jar) as alice,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as bob,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as anonymous,
    ):
        seen["anonymous_root"] = await status_and_location(anonymous, f"{base}/")
        seen["anonymous_room"] = await status_and_location(anonymous, f"{base}/rooms/lobby/")
        seen["anonymous_api"] = await get_json(anonymous, f"{base}/api/rooms/lobby/messages/")
        try:
            async with anonymous.ws_connect(f"{base}/ws/rooms/lobby/", headers=origin) as ws:
                seen["anonymous_ws"] = ["closed", await close_of(ws)]
        except aiohttp.WSServerHandshakeError as refused:
            seen["anonymous_ws"] = ["refused", refused.status]

        seen["login_alice"] = list(await log_in(alice, base, "alice"))
        seen["login_bob"] = list(await log_in(bob, base, "bob"))
        async with alice.get(f"{base}/") as response:
            seen["room_list"] = [response.status, await response.text()]
        async with alice.get(f"{base}/rooms/lobby/") as response:
            seen["room_page"] = [response.status, await response.text()]
        seen["missing_room_page"] = (await status_and_location(alice, f"{base}/rooms/nope/"))[0]
        seen["ws_url"] = f"{base.replace('http://', 'ws://')}/ws/rooms/lobby/"

        async with (
            alice.ws_connect(f"{base}/ws/rooms/lobby/", headers=origin) as ws_alice,
            bob.ws_connect(f"{base}/ws/rooms/lobby/", headers=origin) as ws_bob,
        ):
            seen["history_on_join"] = await next_frame(ws_alice, "history")
            await next_frame(ws_bob, "history")
            seen["presence_both"] = await presence_until(ws_alice, ["alice", "bob"])
            await ws_alice.send_json({"text": "  hello bob  ", "id": "alice-1"})
            own, ack = await message_and_ack(ws_alice)
            seen["alice_sees_own"], seen["alice_ack"] = own, ack
            seen["bob_sees_alice"] = await next_frame(ws_bob, "message")
            await ws_bob.send_json({"text": "hi alice"})  # no id: stored, not acknowledged
            seen["alice_sees_bob"] = await next_frame(ws_alice, "message")
            await next_frame(ws_bob, "message")
            await ws_alice.send_json({"text": "hello bob", "id": "alice-1"})  # a resend
            seen["resend_ack"] = (await message_and_ack(ws_alice))[1]  # published again
            errors = []
            for frame in (
                "not json",
                json.dumps({"text": "   ", "id": "alice-2"}),
                json.dumps({"text": "x" * 1001}),
                json.dumps({"text": "hi", "id": 7}),
            ):
                await ws_alice.send_str(frame)
                errors.append(await next_frame(ws_alice, "error"))
            await ws_alice.send_bytes(b"\x00")
            errors.append(await next_frame(ws_alice, "error"))
            seen["frame_errors"] = errors
        async with alice.ws_connect(f"{base}/ws/rooms/lobby/", headers=origin) as ws:
            await next_frame(ws, "history")
            async with bob.ws_connect(f"{base}/ws/rooms/lobby/", headers=origin) as ws_bob:
                await next_frame(ws_bob, "history")
            both = await presence_seen(ws, ["alice", "bob"])  # bob joined, then left
            seen["presence_after_bob_left"] = await presence_until(ws, ["alice"], both["version"])

        async with bob.ws_connect(f"{base}/ws/rooms/lobby/", headers=origin) as ws:
            seen["history_on_rejoin"] = await next_frame(ws, "history")
        first_seq = seen["alice_sees_own"]["message"]["seq"]
        after = f"{base}/ws/rooms/lobby/?after={first_seq}"
        async with bob.ws_connect(after, headers=origin) as ws:
            seen["history_after"] = await next_frame(ws, "history")
        async with alice.ws_connect(f"{base}/ws/rooms/nope/", headers=origin) as ws:
            seen["missing_room_ws"] = await close_of(ws)

        api = f"{base}/api/rooms/lobby/messages/"
        seen["api"] = await get_json(alice, api)
        seen["api_limit_1"] = await get_json(alice, f"{api}?limit=1")
        seen["api_limit_0"] = await get_json(alice, f"{api}?limit=0")
        seen["api_limit_text"] = await get_json(alice, f"{api}?limit=ten")
        seen["api_missing_room"] = await get_json(alice, f"{base}/api/rooms/nope/messages/")
        first_id = seen["api"][1]["messages"][0]["id"]
        seen["api_message"] = await get_json(alice, f"{base}/api/messages/{first_id}/")
        seen["api_missing_message"] = await get_json(alice, f"{base}/api/messages/999999/")
        seen["api_message_not_int"] = (
            await status_and_location(alice, f"{base}/api/messages/abc/")
        )[0]

        async with alice.get(f"{base}/rooms/no-such-room/") as response:
            seen["friendly_404"] = [response.status, await response.text()]
        seen["favicon"] = await status_and_location(alice, f"{base}/favicon.ico")
        for name in ("chat.css", "chat.js", "favicon.svg"):
            async with alice.get(f"{base}/static/chat/{name}") as response:
                seen[f"static_{name}"] = [response.status, response.content_type]

        token = jar.filter_cookies(URL(base))["csrftoken"].value
        async with alice.ws_connect(f"{base}/ws/rooms/lobby/", headers=origin) as ws:
            await next_frame(ws, "history")  # joined
            async with alice.post(
                f"{base}/accounts/logout/",
                data={"csrfmiddlewaretoken": token},
                allow_redirects=False,
            ) as response:
                seen["logout"] = [response.status, response.headers.get("Location", "")]
            seen["logout_closes_ws"] = await close_of(ws)
        seen["after_logout_root"] = await status_and_location(alice, f"{base}/")
    return seen


# --8<-- [start:serve]
async def main() -> dict[str, Any]:
    """Serve the demo's own ``app`` (demo/demo/wsgi.py) and probe it."""
    app = importlib.import_module("demo.wsgi").app
    assert isinstance(app, web.Application)
    async with serve(app) as client:
        return await probe(client)


# --8<-- [end:serve]


if __name__ == "__main__":
    django.setup()
    call_command("migrate", verbosity=0)
    call_command("createdemo")
    call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG is off: see test_demo
    observations = asyncio.run(main())
    sys.stdout.write("\nPROBE " + json.dumps(observations) + "\n")
