"""The gunicorn worker: boots warning-free, serves every kind of route, drains on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.serving.harness import (
    copy_project,
    eventually,
    free_port,
    new_project,
    running,
    slow_request,
)

pytest.importorskip("gunicorn")

WORKER = "aiodjango.workers.GunicornWorker"


def _gunicorn(target: str, port: int, *extra: str) -> list[str]:
    return [
        "-W",
        "error::DeprecationWarning",
        "-m",
        "gunicorn",
        target,
        "--worker-class",
        WORKER,
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "--no-control-socket",
        *extra,
    ]


async def test_two_workers_serve_and_drain_on_sigterm(tmp_path: Path) -> None:
    """Under -W error::DeprecationWarning, 2 workers serve sync, async and websocket routes; on
    SIGTERM open websockets get 1001, a slow Django request finishes and the master exits 0."""
    cwd, port, base = new_project(tmp_path)
    with running(_gunicorn("project.wsgi:app", port), cwd, tmp_path) as server:
        assert await server.get(f"{base}/sync/") == (200, "sync VERSION-1")
        assert await server.get(f"{base}/async/") == (200, "async VERSION-1")
        async with aiohttp.ClientSession() as session:
            sockets = [await session.ws_connect(f"{base}/ws/") for _ in range(4)]
            for number, ws in enumerate(sockets):
                await ws.send_str(f"hello {number}")
                assert await ws.receive_str() == f"hello {number}"
            slow = await slow_request(session, base, tmp_path, 2)
            server.signal(signal.SIGTERM)
            for ws in sockets:
                message = await ws.receive()
                # The close frame's code: aiohttp drops the connection right after sending it, so
                # the client's own close reply (and ws.close_code) may lose the race and say 1006.
                assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1001)
                await ws.close()
            async with await slow as response:
                assert await response.text() == "slept 2.0"
        assert await asyncio.to_thread(server.wait) == 0, server.output
    output = server.output
    assert output.count("Booting worker with pid") == 2
    assert "DeprecationWarning" not in output
    assert "Worker failed to boot" not in output
    assert "Shutting down: Master" in output


async def test_wsgi_target_is_wrapped(tmp_path: Path) -> None:
    """Pointing gunicorn at Django's WSGI ``application`` serves the combined app too."""
    cwd, port, base = new_project(tmp_path)
    with running(_gunicorn("project.wsgi:application", port), cwd, tmp_path) as server:
        assert await server.get(f"{base}/async/") == (200, "async VERSION-1")
        assert await server.get(f"{base}/sync/") == (200, "sync VERSION-1")
        server.signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.wait) == 0


async def test_async_factory_target(tmp_path: Path) -> None:
    """An async factory (aiohttp's convention) is awaited in each worker."""
    cwd, port, base = new_project(tmp_path)
    with running(_gunicorn("project.wsgi:app_factory", port), cwd, tmp_path) as server:
        assert await server.get(f"{base}/async/") == (200, "async VERSION-1")
        server.signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.wait) == 0


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("project.settings:DEBUG", "Application object must be callable"),
        ("project.wsgi:not_an_app", "the factory must return a web.Application"),
    ],
)
async def test_bad_target_stops_gunicorn(tmp_path: Path, target: str, message: str) -> None:
    """A target that is not an app stops gunicorn with the reason, not an endless respawn."""
    cwd = copy_project(tmp_path)
    with running(_gunicorn(target, free_port()), cwd, tmp_path) as server:
        assert await asyncio.to_thread(server.wait) != 0
    assert message in server.output


async def test_max_requests_restarts_worker_gracefully(tmp_path: Path) -> None:
    """--max-requests: a worker past its quota drains and exits; gunicorn starts another."""
    cwd, port, base = new_project(tmp_path)
    args = [*_gunicorn("project.wsgi:app", port), "--max-requests", "2"]
    args[args.index("--workers") + 1] = "1"
    with running(args, cwd, tmp_path) as server:

        async def restarted() -> bool:
            assert await server.get(f"{base}/async/") == (200, "async VERSION-1")
            return server.output.count("Booting worker with pid") >= 2

        await eventually(restarted)
        server.signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.wait) == 0
    assert "Max requests, shutting down" in server.output
