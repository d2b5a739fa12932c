"""Async views get Django's protections: Host check, body limit, error handling, 404."""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import pytest

from aiodjango import get_aio_application
from aiodjango.testing import serve

from . import views
from .helpers import Client, port_of, served_without_cancellation


async def test_seed_example_hello(aio_client: Client) -> None:
    """The 2015 example: a coroutine view on re_path serves /hello/ from aiohttp."""
    response = await aio_client.get("/hello/")
    assert (response.status, await response.text()) == (200, "Hello World")
    assert "Server" in response.headers
    other = await aio_client.get("/django/")
    assert (await other.json())["server"] == "django"


async def test_bad_host_gets_400(aio_client: Client, caplog: pytest.LogCaptureFixture) -> None:
    """A Host outside ALLOWED_HOSTS is refused on async routes, and logged as Django does."""
    with caplog.at_level(logging.ERROR, "django.security.DisallowedHost"):
        response = await aio_client.get("/hello/", headers={"Host": "evil.example"})
    assert response.status == 400
    assert "evil.example" in caplog.text
    django = await aio_client.get("/django/", headers={"Host": "evil.example"})
    assert django.status == 400


async def test_forwarded_host_honoured_only_when_enabled(settings: Any) -> None:
    """X-Forwarded-Host counts only with USE_X_FORWARDED_HOST, as in Django."""
    headers = {"X-Forwarded-Host": "evil.example"}
    async with serve(get_aio_application()) as client:
        assert (await client.get("/hello/", headers=headers)).status == 200
        settings.USE_X_FORWARDED_HOST = True
        assert (await client.get("/hello/", headers=headers)).status == 400


async def test_body_limit(settings: Any) -> None:
    """AIODJANGO_MAX_BODY_SIZE bounds async views' bodies with 413, declared or streamed."""
    settings.AIODJANGO_MAX_BODY_SIZE = 100
    async with serve(get_aio_application()) as client:
        ok = await client.post("/echo-body/", data=b"x" * 100)
        assert (ok.status, await ok.text()) == (200, "100")
        declared = await client.post("/echo-body/", data=b"x" * 101)
        assert declared.status == 413

        async def chunks() -> Any:
            for _ in range(3):
                yield b"x" * 60

        streamed = await client.post("/echo-body/", data=chunks())
        assert streamed.status == 413


async def test_body_limit_defaults_to_django_setting(settings: Any) -> None:
    """Without AIODJANGO_MAX_BODY_SIZE, DATA_UPLOAD_MAX_MEMORY_SIZE is the limit."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 50
    async with serve(get_aio_application()) as client:
        assert (await client.post("/echo-body/", data=b"x" * 51)).status == 413


async def test_exception_gives_logged_500(
    aio_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception in an async view is Django's 500, logged on django.request with traceback."""
    with caplog.at_level(logging.ERROR, "django.request"):
        response = await aio_client.get("/async-boom/")
    assert response.status == 500
    assert "Server Error (500)" in await response.text()
    record = next(r for r in caplog.records if r.name == "django.request")
    assert record.exc_info is not None and "async boom" in str(record.exc_info[1])
    assert (await aio_client.get("/hello/")).status == 200


async def test_debug_shows_technical_500(settings: Any) -> None:
    """With DEBUG=True the 500 is Django's debug page naming the exception."""
    settings.DEBUG = True
    async with serve(get_aio_application()) as client:
        response = await client.get("/async-boom/")
        assert response.status == 500
        text = await response.text()
    assert "RuntimeError" in text and "async boom" in text


async def test_http_exceptions_pass_through(aio_client: Client) -> None:
    """aiohttp's HTTPException responses are sent as raised."""
    response = await aio_client.get("/teapot/")
    assert (response.status, await response.text()) == (451, "451 stays")


async def test_http404_from_async_view_is_djangos_404(aio_client: Client) -> None:
    """Django's Http404 raised in an async view renders Django's 404 page."""
    response = await aio_client.get("/not-found/")
    assert response.status == 404
    assert "Not Found" in await response.text()


async def test_unmatched_path_is_djangos_404(aio_client: Client) -> None:
    """A path no pattern matches gets Django's own 404."""
    response = await aio_client.get("/no/such/path/at/all/")
    assert response.status == 404
    assert "The requested resource was not found" in await response.text()


async def test_append_slash_redirect_from_django(aio_client: Client) -> None:
    """/hello (no slash) falls to Django, whose CommonMiddleware redirects to /hello/."""
    response = await aio_client.get("/hello", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (301, "/hello/")


async def test_converted_values_in_match_info(aio_client: Client) -> None:
    """match_info holds strings; match_info.kwargs holds converted values as Django's."""
    body = await (await aio_client.get("/items/42/")).json()
    assert body["match_info"] == {"pk": "42"}
    assert body["kwargs"] == {"pk": 42}


async def test_allowed_hosts_change_takes_effect(settings: Any) -> None:
    """A changed ALLOWED_HOSTS applies to the next request (the host verdict cache is reset)."""
    async with serve(get_aio_application()) as client:
        headers = {"Host": "new.example"}
        assert (await client.get("/hello/", headers=headers)).status == 400
        settings.ALLOWED_HOSTS = ["new.example"]
        assert (await client.get("/hello/", headers=headers)).status == 200
        settings.ALLOWED_HOSTS = ["127.0.0.1"]
        assert (await client.get("/hello/", headers=headers)).status == 400


async def test_view_changing_its_kwargs_does_not_leak(aio_client: Client) -> None:
    """A view that changes match_info.kwargs on a literal path leaves the next request alone."""
    assert await (await aio_client.get("/mutating/")).text() == "fixed"
    assert await (await aio_client.get("/mutating/")).text() == "fixed"


async def test_zero_body_limit_refuses_any_body(settings: Any) -> None:
    """AIODJANGO_MAX_BODY_SIZE = 0 refuses every body; None lifts the limit."""
    settings.AIODJANGO_MAX_BODY_SIZE = 0
    async with serve(get_aio_application()) as client:
        assert (await client.post("/echo-body/", data=b"x")).status == 413

        async def chunked() -> Any:
            yield b"x"

        assert (await client.post("/echo-body/", data=chunked())).status == 413
        assert (await (await client.post("/echo-body/", data=b"")).text()) == "0"
    settings.AIODJANGO_MAX_BODY_SIZE = None
    async with serve(get_aio_application()) as client:
        big = await client.post("/echo-body/", data=io.BytesIO(b"x" * 3_000_000))
        assert (big.status, await big.text()) == (200, "3000000")


async def _raw_request(port: int, head: bytes, *, body: bytes = b"") -> tuple[int, bytes]:
    """Sends ``head`` (and ``body``) over a raw socket; returns the status and the response."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + body)
    response = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    await writer.wait_closed()
    return int(response.split(b" ", 2)[1]), response


@pytest.mark.parametrize("path", ["/hello/", "/django/", "/items/42/"])
async def test_absolute_form_with_evil_authority_is_400(
    aio_client: Client, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """`GET http://evil.example:1234/x/` with an allowed Host: the target's authority counts
    (RFC 9112 §3.2.2), on async and Django routes alike."""
    head = (
        f"GET http://evil.example:1234{path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port_of(aio_client)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with caplog.at_level(logging.ERROR, "django.security.DisallowedHost"):
        status, response = await _raw_request(port_of(aio_client), head)
    assert status == 400
    assert b"Bad Request" in response
    assert "evil.example:1234" in caplog.text


async def test_absolute_form_with_allowed_authority_is_served(aio_client: Client) -> None:
    """An absolute-form target naming an allowed host is served; the view sees that host."""
    head = (
        f"GET http://127.0.0.1:{port_of(aio_client)}/items/42/ HTTP/1.1\r\n"
        "Host: evil.example\r\nConnection: close\r\n\r\n"
    ).encode()
    status, response = await _raw_request(port_of(aio_client), head)
    assert status == 200
    assert b'"pk": "42"' in response


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/aio/exempt-fields/", "multipart/form-data", b"x=1"),
        ("/aio/exempt-fields/", "multipart/form-data; boundary=zz", b"garbage"),
        ("/aio/exempt-fields/", "multipart/form-data; boundary=zz", b"--zz\r\n\r\nx\r\n--zz--\r\n"),
        ("/aio/post/", "multipart/form-data", b"x=1"),  # through Django's CSRF check first
    ],
)
async def test_unparsable_multipart_is_400(
    aio_client: Client, path: str, content_type: str, body: bytes
) -> None:
    """A multipart body request.post() (or Django, for CSRF) cannot parse is a 400, not a 500."""
    await aio_client.get("/accounts/login/")  # the CSRF cookie: Django then reads the form
    response = await aio_client.post(path, data=body, headers={"Content-Type": content_type})
    assert response.status == 400
    good = await aio_client.post("/aio/exempt-fields/", data={"a": "1", "b": "2"})
    assert (good.status, await good.text()) == (200, "a,b")


async def test_a_views_own_value_error_is_still_500(
    aio_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """Only aiohttp's body parsing turns a ValueError into 400; a view's own stays a 500."""
    with caplog.at_level(logging.ERROR, "django.request"):
        response = await aio_client.get("/async-boom/")
    assert response.status == 500


async def test_client_leaving_mid_body_is_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    """A client that quits half-way through its body: no 500, no ERROR log, still serving
    (on a server that does not cancel handlers, so the view's read fails)."""
    caplog.set_level(logging.DEBUG)
    async with served_without_cancellation(get_aio_application()) as port:
        for _ in range(5):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                (
                    f"POST /echo-body/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    "Content-Length: 100000\r\n\r\n"
                ).encode()
                + b"x" * 1000
            )
            await writer.drain()
            await asyncio.sleep(0.05)  # the view is reading the body now
            writer.transport.abort()
        status, _ = await _raw_request(
            port,
            f"GET /hello/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode(),
        )
        assert status == 200
    assert any("Client left" in r.getMessage() for r in caplog.records)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [(r.name, r.getMessage()) for r in errors]


async def test_cancelled_view_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    """With handler_cancellation, a client leaving cancels the view; nothing is logged as an
    error (the serving layer turns the option on; aiohttp's test server has it on)."""
    caplog.set_level(logging.DEBUG)
    async with serve(get_aio_application()) as client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(client))
        writer.write(f"GET /hang/ HTTP/1.1\r\nHost: 127.0.0.1:{port_of(client)}\r\n\r\n".encode())
        await writer.drain()
        for _ in range(1000):  # until the view runs
            if "started" in views.HANG:
                break
            await asyncio.sleep(0.01)
        await asyncio.wait_for(views.HANG["started"].wait(), 30)
        writer.transport.abort()
        await asyncio.wait_for(views.HANG["cancelled"].wait(), 30)
        assert (await client.get("/hello/")).status == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [(r.name, r.getMessage()) for r in errors]
