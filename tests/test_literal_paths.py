"""Literal async view paths are found at aiohttp's first index lookup, with the router's answer."""

from __future__ import annotations

from aiodjango import get_aio_application
from aiodjango.resources import LiteralResource
from aiodjango.testing import serve


async def test_literal_path_indexed_and_answered_like_the_router() -> None:
    """/hello/ has its own LiteralResource; it and its percent-encoded form give the same view."""
    app = get_aio_application()
    literal = {r.canonical for r in app.router.resources() if isinstance(r, LiteralResource)}
    assert "/hello/" in literal
    async with serve(app) as client:
        plain = await client.get("/hello/")
        encoded = await client.get("/hel%6Co/")  # not the literal's raw path: the router's
        assert (plain.status, await plain.text()) == (200, "Hello World")
        assert (encoded.status, await encoded.text()) == (200, "Hello World")
        assert (await client.get("/hello/x/")).status == 404
