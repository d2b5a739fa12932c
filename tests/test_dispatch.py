"""Async views get Django's protections: Host check, body limit, error handling, 404."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest

from aiodjango import get_aio_application
from aiodjango.testing import serve

from .helpers import Client


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
