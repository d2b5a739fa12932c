"""Django users, login_required, logout and CSRF for async views, over real loopback servers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import websockets
from aiohttp import WSMsgType, web
from aiohttp.test_utils import make_mocked_request
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from websockets.typing import Subprotocol

from aiodjango import async_view, get_aio_application, get_user, login_required
from aiodjango.auth import USER_KEY
from aiodjango.registry import AsyncViewRegistry, get_view_def
from aiodjango.testing import serve
from aiodjango.websocket import (
    CLOSE_LOGGED_OUT,
    CLOSE_POLICY_VIOLATION,
    WEBSOCKETS_KEY,
    close_user_websockets,
)

from . import ws_views
from .helpers import PASSWORD, Client, cookie_header, cookies, log_in, ws_connect


@pytest.fixture
def alice(transactional_db: None, django_user_model: Any) -> Any:
    """A user in the database (transactional: Django views run on other threads)."""
    return django_user_model.objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def bob(transactional_db: None, django_user_model: Any) -> Any:
    """A second user."""
    return django_user_model.objects.create_user("bob", password=PASSWORD)


async def csrf_token(client: Client) -> str:
    """A CSRF token (and cookie) from a Django page."""
    await client.get("/accounts/login/")
    return cookies(client)["csrftoken"]


async def test_anonymous_user(aio_client: Client) -> None:
    """Without a session, get_user() gives AnonymousUser, in HTTP and websocket handlers."""
    assert await (await aio_client.get("/aio/whoami/")).text() == "anonymous"
    async with aio_client.ws_connect("/ws/whoami/") as ws:
        assert await ws.receive_str() == "anonymous"
    async with ws_connect(aio_client, "/ws/whoami/") as client:
        assert await client.recv() == "anonymous"


async def test_user_after_django_login(aio_client: Client, alice: Any) -> None:
    """After Django's LoginView, the session cookie gives async handlers the user."""
    await log_in(aio_client, "alice")
    assert await (await aio_client.get("/aio/whoami/")).text() == "alice"
    async with aio_client.ws_connect("/ws/whoami/") as ws:
        assert await ws.receive_str() == "alice"
    async with ws_connect(
        aio_client, "/ws/whoami/", additional_headers={"Cookie": cookie_header(aio_client)}
    ) as client:
        assert await client.recv() == "alice"


async def test_get_user_in_a_django_async_view(aio_client: Client, alice: Any) -> None:
    """In a Django-native async view, get_user() answers through Django's request.auser()."""
    assert await (await aio_client.get("/dj/whoami/")).text() == "anonymous"
    await log_in(aio_client, "alice")
    assert await (await aio_client.get("/dj/whoami/")).text() == "alice"


async def test_login_required_ws_handler_called_directly(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> None:
    """Called outside aiodjango's handshake, a login_required ws handler closes with 1008."""

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws_views.private(request, ws)
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    client = await aiohttp_client(app)
    async with client.ws_connect("/") as ws:
        msg = await ws.receive()
        assert (msg.type, msg.data) == (WSMsgType.CLOSE, CLOSE_POLICY_VIOLATION)


async def test_any_session_engine(alice: Any, settings: Any) -> None:
    """Sessions are read through SESSION_ENGINE: signed cookies work as well as the database."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    async with serve(get_aio_application()) as client:  # Django's middleware reads it at start
        await log_in(client, "alice")
        assert ":" in cookies(client)["sessionid"]  # a signed cookie, not a database key
        async with client.ws_connect("/ws/whoami/") as ws:
            assert await ws.receive_str() == "alice"


async def test_login_required_http_redirects(aio_client: Client, alice: Any) -> None:
    """An anonymous request is redirected to LOGIN_URL with next=, as Django does."""
    response = await aio_client.get("/aio/private/?page=2", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/accounts/login/?next=/aio/private/%3Fpage%3D2"
    response = await aio_client.get("/aio/private-elsewhere/", allow_redirects=False)
    assert response.headers["Location"] == "/elsewhere/?back=/aio/private-elsewhere/"
    response = await aio_client.get("/aio/private-sso/", allow_redirects=False)
    here = f"http%3A//127.0.0.1%3A{aio_client.port}/aio/private-sso/"
    assert response.headers["Location"] == f"https://sso.example/login/?next={here}"
    await log_in(aio_client, "alice")
    response = await aio_client.get("/aio/private/", allow_redirects=False)
    assert (response.status, await response.text()) == (200, "private alice")


async def test_login_required_websocket(
    aio_client: Client, alice: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """An anonymous handshake is refused with 403 before the upgrade; a logged-in one opens."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await aio_client.ws_connect("/ws/private/")
    assert info.value.status == 403
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with ws_connect(aio_client, "/ws/private/"):
            pass
    assert refused.value.response.status_code == 403
    assert "login required" in caplog.text
    await log_in(aio_client, "alice")
    async with aio_client.ws_connect("/ws/private/") as ws:
        assert await ws.receive_str() == "private alice"


async def test_logout_closes_the_users_sockets(aio_client: Client, alice: Any, bob: Any) -> None:
    """Logging out through Django's LogoutView closes that user's sockets with 4001, only."""
    await log_in(aio_client, "alice")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as bob_session:
        await log_in(aio_client, "bob", bob_session)
        bob_ws = await bob_session.ws_connect(aio_client.make_url("/ws/whoami/"))
        assert await bob_ws.receive_str() == "bob"
        alice_ws = await aio_client.ws_connect("/ws/whoami/")
        assert await alice_ws.receive_str() == "alice"
        async with ws_connect(
            aio_client, "/ws/whoami/", additional_headers={"Cookie": cookie_header(aio_client)}
        ) as alice_other:
            assert await alice_other.recv() == "alice"
            tracker = aio_client.app[WEBSOCKETS_KEY]
            assert len(tracker.user_sockets(alice)) == 2

            token = cookies(aio_client)["csrftoken"]
            response = await aio_client.post(
                "/accounts/logout/", headers={"X-CSRFToken": token}, allow_redirects=False
            )
            assert response.status == 200, await response.text()

            msg = await alice_ws.receive()
            assert (msg.type, msg.data, msg.extra) == (
                WSMsgType.CLOSE,
                CLOSE_LOGGED_OUT,
                "Logged out",
            )
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await alice_other.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == CLOSE_LOGGED_OUT
        await alice_ws.close()
        await bob_ws.send_str("still here")
        assert await bob_ws.receive_str() == "still here"
        await bob_ws.close()
    assert await (await aio_client.get("/aio/whoami/")).text() == "anonymous"


async def test_token_authenticator(aio_client: Client, alice: Any, settings: Any) -> None:
    """AIODJANGO_TOKEN_AUTHENTICATOR authenticates by header or by subprotocol token."""
    settings.AIODJANGO_TOKEN_AUTHENTICATOR = "tests.ws_views.token_user"
    token = ws_views.token_for(alice)
    response = await aio_client.get("/aio/whoami/", headers={"Authorization": f"Bearer {token}"})
    assert await response.text() == "alice"
    response = await aio_client.get("/aio/whoami/", headers={"Authorization": "Bearer 1-bad"})
    assert await response.text() == "anonymous"
    protocols = [Subprotocol("chat.v1"), Subprotocol(f"token.{token}")]
    async with ws_connect(aio_client, "/ws/whoami/", subprotocols=protocols) as client:
        assert client.subprotocol == "chat.v1"
        assert await client.recv() == "alice"
        # Closing a user's sockets works from any thread, e.g. after a password change.
        await asyncio.to_thread(close_user_websockets, alice)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await client.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == CLOSE_LOGGED_OUT
    close_user_websockets(AnonymousUser())  # nobody to close: a no-op
    close_user_websockets(None)


async def test_cross_site_post_is_refused(
    aio_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A POST with no token, or from another site, is refused with 403 by Django's CSRF logic."""
    evil = {"Origin": "https://evil.example"}
    response = await aio_client.post("/aio/post/", data={"text": "hello"}, headers=evil)
    assert response.status == 403
    assert "CSRF" in await response.text()
    token = await csrf_token(aio_client)
    response = await aio_client.post(
        "/aio/post/", data={"text": "hello"}, headers={**evil, "X-CSRFToken": token}
    )
    assert response.status == 403
    response = await aio_client.post("/aio/post/", data={"text": "hello"})
    assert response.status == 403
    assert [r.name for r in caplog.records].count("django.security.csrf") == 3
    assert "Origin checking failed - https://evil.example" in caplog.text


async def test_post_with_token_passes(aio_client: Client) -> None:
    """The same POST passes with the token in the header or in the form field."""
    token = await csrf_token(aio_client)
    own = {"Origin": f"http://127.0.0.1:{aio_client.port}"}
    response = await aio_client.post(
        "/aio/post/", data={"text": "hello"}, headers={**own, "X-CSRFToken": token}
    )
    assert (response.status, await response.text()) == (200, "posted hello")
    form = {"text": "hello", "csrfmiddlewaretoken": token}
    response = await aio_client.post("/aio/post/", data=form, headers=own)
    assert (response.status, await response.text()) == (200, "posted hello")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_unsafe_methods_need_the_token(aio_client: Client, method: str) -> None:
    """PUT, PATCH and DELETE are checked too; GET is not."""
    assert (await aio_client.request(method, "/aio/post/")).status == 403
    token = await csrf_token(aio_client)
    response = await aio_client.request(method, "/aio/post/", headers={"X-CSRFToken": token})
    assert response.status == 200
    assert (await aio_client.get("/aio/post/")).status == 200


async def test_csrf_exempt_handler(aio_client: Client) -> None:
    """Django's csrf_exempt, below @async_view, exempts a handler."""
    response = await aio_client.post("/aio/exempt/", data=b"12345")
    assert (response.status, await response.text()) == (200, "exempt 5")


async def test_csrf_token_in_session(aio_client: Client, alice: Any, settings: Any) -> None:
    """With CSRF_USE_SESSIONS the token is checked against the session."""
    settings.CSRF_USE_SESSIONS = True
    page = await aio_client.get("/accounts/login/")
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', await page.text())
    assert found is not None
    assert "csrftoken" not in cookies(aio_client)
    response = await aio_client.post(
        "/aio/post/", data={"text": "x"}, headers={"X-CSRFToken": found[1]}
    )
    assert (response.status, await response.text()) == (200, "posted x")
    response = await aio_client.post(
        "/aio/post/", data={"text": "x"}, headers={"X-CSRFToken": "a" * 32}
    )
    assert response.status == 403


def test_login_required_above_async_view_is_refused() -> None:
    """@login_required above a registering @async_view would leave the view open: TypeError."""
    registry = AsyncViewRegistry()

    async def view(request: web.Request) -> web.Response:
        return web.Response()

    with pytest.raises(TypeError, match="Put @login_required below @async_view"):
        login_required(registry.async_view("x/")(view))


def test_login_required_keeps_a_urlconf_mark() -> None:
    """On a view only marked by @async_view, the mark moves to the protected wrapper."""

    async def view(request: web.Request) -> web.Response:
        return web.Response()

    protected = login_required(async_view(view))
    view_def = get_view_def(protected)
    assert view_def is not None
    assert view_def.handler is protected


async def test_get_user_is_cached_per_request() -> None:
    """get_user() returns the user already loaded for the request (make_mocked_request: no I/O)."""
    request = make_mocked_request("GET", "/")
    user = AnonymousUser()
    request[USER_KEY] = user
    assert await get_user(request) is user


async def test_get_user_on_a_django_request() -> None:
    """A Django request without AuthenticationMiddleware still gets its (anonymous) user."""
    user = await get_user(RequestFactory().get("/"))
    assert not user.is_authenticated
