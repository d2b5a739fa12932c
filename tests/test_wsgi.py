"""The WSGI bridge fixes aiohttp-wsgi 0.10's defects, each shown failing with upstream."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp_wsgi.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

from aiodjango.testing import serve

from . import views
from .helpers import Client


def _wsgi() -> Any:
    return get_wsgi_application()


def _upstream_app() -> web.Application:
    """Plain aiohttp-wsgi 0.10, registered as its docs show (bound method, no warning)."""
    app = web.Application()
    app.router.add_route("*", "/{path_info:.*}", WSGIHandler(_wsgi()).handle_request)
    return app


@pytest.fixture
async def upstream() -> AsyncIterator[Client]:
    async with serve(_upstream_app()) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "expected"), [("/u/%C3%A9t%C3%A9/", "été"), ("/u/%ED%85%8C/", "테")]
)
async def test_non_ascii_paths_reach_django(
    aio_client: Client, upstream: Client, path: str, expected: str
) -> None:
    """Percent-encoded UTF-8 paths reach the view decoded; upstream garbles them or fails."""
    response = await aio_client.get(path)
    assert (response.status, await response.text()) == (200, expected)
    before = await upstream.get(path)
    assert (before.status, await before.text()) != (200, expected)


async def _first_chunk_then(client: Client, *, leave: bool) -> tuple[bytes, int]:
    response = await client.get("/stream/")
    first = await response.content.readline()
    steps_at_first_chunk = int(views.STREAM_STATE["steps"])
    if leave:
        response.close()
    else:
        await response.read()
    return first, steps_at_first_chunk


async def test_streaming_response_streams(aio_client: Client) -> None:
    """The first chunk arrives while the generator is still running (not after all 50)."""
    first, steps = await _first_chunk_then(aio_client, leave=True)
    assert first == b"chunk 0\n"
    assert steps < 50


async def test_streaming_response_stays_on_one_thread(aio_client: Client) -> None:
    """The view, every step of its generator and its close run on one pool thread (Django's
    thread-local database connection stays the request's), while other requests run."""
    others = [asyncio.ensure_future(aio_client.get("/u/x/")) for _ in range(8)]
    response = await aio_client.get("/stream/", params={"steps": "12"})
    body = await response.text()
    assert [r.status for r in await asyncio.gather(*others)] == [200] * 8
    assert body == "".join(f"chunk {n}\n" for n in range(12))
    closed: threading.Event = views.STREAM_STATE["closed"]
    assert await asyncio.to_thread(closed.wait, 10)
    threads = views.STREAM_STATE["threads"]
    assert len(threads) == 14 and len(set(threads)) == 1


async def test_upstream_buffers_streaming_response(upstream: Client) -> None:
    """aiohttp-wsgi 0.10 only sends the first chunk once the generator has finished."""
    _, steps = await _first_chunk_then(upstream, leave=False)
    assert steps == 50


async def test_disconnect_stops_the_generator(aio_client: Client) -> None:
    """A client that goes away closes the generator instead of draining it."""
    _, _ = await _first_chunk_then(aio_client, leave=True)
    closed: threading.Event = views.STREAM_STATE["closed"]
    assert await asyncio.to_thread(closed.wait, 10)
    assert views.STREAM_STATE["steps"] < 50


async def test_upstream_drains_the_generator_of_a_gone_client(upstream: Client) -> None:
    """aiohttp-wsgi 0.10 runs a generator to its end although nobody will read it."""
    views.STREAM_STATE["steps"] = 0
    request = asyncio.ensure_future(upstream.get("/stream/"))
    for _ in range(600):  # until the generator runs (its first step); at most 60 s
        if views.STREAM_STATE["steps"]:
            break
        await asyncio.sleep(0.1)
    request.cancel()  # the client goes away
    closed: threading.Event = views.STREAM_STATE["closed"]
    assert await asyncio.to_thread(closed.wait, 30)
    assert views.STREAM_STATE["steps"] == 50


async def _file_read_at_first_byte(client: Client, tmp_path: Path) -> tuple[int, int]:
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * (40 * 4096))  # 40 MiB
    views.RecordingFile.reads = []
    response = await client.get("/download/", params={"path": str(big)})
    await response.content.readany()
    read_so_far = sum(views.RecordingFile.reads)
    response.close()
    return read_so_far, big.stat().st_size


async def test_file_response_is_sent_in_blocks(aio_client: Client, tmp_path: Path) -> None:
    """A 40 MiB FileResponse arrives intact, read in blocks while it is being sent."""
    read_so_far, size = await _file_read_at_first_byte(aio_client, tmp_path)
    assert read_so_far < size // 4
    views.RecordingFile.reads = []
    response = await aio_client.get("/download/", params={"path": str(tmp_path / "big.bin")})
    assert response.headers["Content-Length"] == str(size)
    assert await response.read() == (tmp_path / "big.bin").read_bytes()
    assert max(views.RecordingFile.reads) <= 1024 * 1024


async def test_upstream_reads_the_whole_file_first(upstream: Client, tmp_path: Path) -> None:
    """aiohttp-wsgi 0.10 has read the whole file into memory before the first byte goes out."""
    read_so_far, size = await _file_read_at_first_byte(upstream, tmp_path)
    assert read_so_far == size


async def test_set_cookie_has_no_leading_space(aio_client: Client) -> None:
    """Django's Set-Cookie values go out without the space aiohttp-wsgi leaves in."""
    response = await aio_client.get("/cookies/")
    raw = [v.decode() for k, v in response.raw_headers if k.lower() == b"set-cookie"]
    assert sorted(raw) == ["a=1; Path=/", "b=2; Path=/"]


async def test_django_runs_on_its_own_pool(aio_client: Client) -> None:
    """Django views run on aiodjango's pool, not the loop's default executor."""
    response = await aio_client.get("/thread/")
    assert (await response.text()).startswith("aiodjango-wsgi")


async def test_pool_size_is_a_setting(settings: Any) -> None:
    """AIODJANGO_WSGI_THREADS bounds how many Django views run at once."""
    from aiodjango import get_aio_application

    settings.AIODJANGO_WSGI_THREADS = 2
    async with serve(get_aio_application()) as client:
        texts = await asyncio.gather(*(client.get("/slow/?s=0.2") for _ in range(6)))
        names = {(await r.text()).split()[1] for r in texts}
    assert len(names) == 2


async def test_wsgi_body_limit(settings: Any) -> None:
    """Bodies above AIODJANGO_WSGI_MAX_BODY_SIZE get 413 before Django runs."""
    from aiodjango import get_aio_application

    settings.AIODJANGO_WSGI_MAX_BODY_SIZE = 1000
    async with serve(get_aio_application()) as client:
        too_big = await client.post("/echo-json/", data=b"1" * 2000)
        assert too_big.status == 413
        fine = await client.post("/echo-json/", data=b"12")
        assert (fine.status, await fine.json()) == (200, {"got": 12})


async def test_head_request_has_no_body(aio_client: Client) -> None:
    """HEAD through the bridge gets the headers and no body."""
    response = await aio_client.head("/django/")
    assert response.status == 200
    assert await response.read() == b""


def test_starts_without_deprecation_warnings(tmp_path: Path) -> None:
    """Under python -W error the app builds, serves both kinds of view, and exits cleanly."""
    script = textwrap.dedent(
        """
        import asyncio, os
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        import django
        django.setup()
        import aiohttp
        from aiohttp import web
        from django.core.wsgi import get_wsgi_application
        from aiodjango import get_aio_application

        async def main():
            app = get_aio_application(get_wsgi_application())
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            async with aiohttp.ClientSession() as session:
                for path in ("/hello/", "/django/"):
                    async with session.get(f"http://127.0.0.1:{port}{path}") as r:
                        assert r.status == 200, (path, r.status)
            await runner.cleanup()
            print("ok")

        asyncio.run(main())
        """
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_upstream_instance_registration_warns() -> None:
    """Registering the WSGIHandler instance, as aiohttp-wsgi's docs show, warns (we don't)."""
    app = web.Application()
    handler: Callable[..., Any] = WSGIHandler(_wsgi())
    with pytest.warns(DeprecationWarning, match="Bare functions"):
        app.router.add_route("*", "/{path_info:.*}", handler)


async def test_client_disconnect_mid_upload_does_not_crash(aio_client: Client) -> None:
    """A request cut off mid-body leaves the server serving."""
    port = aio_client.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /echo-json/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n12")
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    response = await aio_client.get("/django/")
    assert response.status == 200
    assert await reader.read() == b""


def _broken_stream(environ: dict[str, Any], start_response: Any) -> Any:
    """A WSGI app whose streamed body fails after its first chunk."""
    if environ["PATH_INFO"] == "/no-start/":
        return [b"never started"]
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body() -> Any:
        yield b"first\n"
        raise RuntimeError("stream broke")

    return body()


async def test_broken_wsgi_apps_do_not_crash_the_server(caplog: pytest.LogCaptureFixture) -> None:
    """A body that fails mid-stream cuts that response; no start_response is a 500; both logged."""
    from aiodjango import get_aio_application

    async with serve(get_aio_application(_broken_stream)) as client:
        response = await client.get("/stream/")
        assert await response.content.readline() == b"first\n"
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
        no_start = await client.get("/no-start/")
        assert no_start.status == 500
        again = await client.get("/stream/")
        assert await again.content.readline() == b"first\n"
        again.close()
    assert "stream broke" in caplog.text
    assert "did not call start_response" in caplog.text
