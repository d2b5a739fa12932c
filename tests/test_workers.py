"""The gunicorn worker: boots warning-free, serves every kind of route, drains on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.serving.harness import (
    BAD_TARGETS,
    TARGETS,
    copy_project,
    eventually,
    free_port,
    new_project,
    refusal,
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


@pytest.mark.parametrize("target", TARGETS)
async def test_serves_every_kind_of_target(tmp_path: Path, target: str) -> None:
    """The combined app, an async or plain factory and Django's WSGI app, dotted or colon."""
    cwd, port, base = new_project(tmp_path)
    args = _gunicorn(target, port)
    args[args.index("--workers") + 1] = "1"
    with running(args, cwd, tmp_path) as server:
        assert await server.get(f"{base}/async/") == (200, "async VERSION-1")
        assert await server.get(f"{base}/sync/") == (200, "sync VERSION-1")
        server.signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.wait) == 0


@pytest.mark.parametrize(("target", "what"), BAD_TARGETS)
async def test_bad_target_stops_gunicorn(tmp_path: Path, target: str, what: str) -> None:
    """A wrong target stops gunicorn with the loader's message, not an endless respawn."""
    cwd = copy_project(tmp_path)
    with running(_gunicorn(target, free_port()), cwd, tmp_path) as server:
        assert await asyncio.to_thread(server.wait) != 0
    assert refusal(target, what) in server.output


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
