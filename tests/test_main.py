"""``python -m aiodjango``: serves the project, and shuts down gracefully on SIGTERM/SIGINT."""

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
    file_exists,
    new_project,
    refusal,
    running,
    slow_request,
)


async def _wait_for(path: Path) -> None:
    await eventually(file_exists(path))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_serves_then_drains_on_signal(tmp_path: Path, signum: int) -> None:
    """Sync, async and websocket routes work; a signal closes sockets with 1001, lets a slow
    Django request finish, and the process exits 0."""
    cwd, port, base = new_project(tmp_path)
    args = ["-W", "error::DeprecationWarning", "-m", "aiodjango", "project.wsgi:app"]
    with running([*args, "--port", str(port)], cwd, tmp_path) as server:
        assert await server.get(f"{base}/sync/") == (200, "sync VERSION-1")
        assert await server.get(f"{base}/async/") == (200, "async VERSION-1")
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{base}/ws/") as ws:
                await ws.send_str("ping")
                assert (await ws.receive_str()) == "ping"
                slow = await slow_request(session, base, tmp_path, 2)
                server.signal(signum)
                closing = await ws.receive()
                # The close frame's code: aiohttp drops the connection right after sending it, so
                # the client's own close reply (and ws.close_code) may lose the race and say 1006.
                assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1001)
            async with await slow as response:
                assert response.status == 200
                assert await response.text() == "slept 2.0"
        assert await asyncio.to_thread(server.wait) == 0, server.output
    assert "DeprecationWarning" not in server.output
    assert "Stopped." in server.output


async def test_new_connections_refused_after_signal(tmp_path: Path) -> None:
    """While a request drains, the listening socket is already closed."""
    cwd, port, base = new_project(tmp_path)
    with running(
        ["-m", "aiodjango", "project.wsgi:app", "--port", str(port)], cwd, tmp_path
    ) as server:
        assert (await server.get(f"{base}/sync/"))[0] == 200
        async with aiohttp.ClientSession() as session:
            slow = await slow_request(session, base, tmp_path, 3)
            server.signal(signal.SIGTERM)
            while True:  # the shutdown starts soon after the signal; then connecting fails
                try:
                    async with aiohttp.ClientSession() as fresh, fresh.get(f"{base}/sync/"):
                        pass
                except aiohttp.ClientConnectorError:
                    break
                except aiohttp.ServerDisconnectedError:
                    pass  # accepted just before the listener closed, then closed as idle
                await asyncio.sleep(0.05)
            async with await slow as response:
                assert await response.text() == "slept 3.0"
        assert await asyncio.to_thread(server.wait) == 0


async def test_shutdown_timeout_cuts_slow_requests(tmp_path: Path) -> None:
    """A Django view outliving AIODJANGO_SHUTDOWN_TIMEOUT is abandoned and the exit is still 0."""
    cwd, port, base = new_project(tmp_path)
    env = {"SERVING_SHUTDOWN_TIMEOUT": "0.5"}
    args = ["-m", "aiodjango", "project.wsgi:app", "--port", str(port)]
    with running(args, cwd, tmp_path, env) as server:
        assert (await server.get(f"{base}/sync/"))[0] == 200
        async with aiohttp.ClientSession() as session:
            slow = await slow_request(session, base, tmp_path, 600)
            server.signal(signal.SIGTERM)
            with pytest.raises(aiohttp.ClientError):
                async with await slow as response:
                    await response.read()
        assert await asyncio.to_thread(server.wait) == 0
    assert "1 Django request(s) still running" in server.output


async def test_unix_socket(tmp_path: Path) -> None:
    """--unix-socket serves Django and async views over a unix socket."""
    cwd = copy_project(tmp_path)
    path = tmp_path / "aiodjango.sock"
    args = ["-m", "aiodjango", "project.wsgi:application", "--unix-socket", str(path)]
    with running(args, cwd, tmp_path) as server:
        await eventually(file_exists(path))
        connector = aiohttp.UnixConnector(path=str(path))
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get("http://localhost/async/") as response:
                assert await response.text() == "async VERSION-1"
            async with session.get("http://localhost/sync/") as response:
                assert await response.text() == "sync VERSION-1"
        server.signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.wait) == 0


async def test_port_in_use_exits_1(tmp_path: Path) -> None:
    """A port someone else holds gives a one-line error and exit status 1."""
    import socket

    cwd = copy_project(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        args = ["-m", "aiodjango", "project.wsgi:app", "--port", str(port)]
        with running(args, cwd, tmp_path) as server:
            assert await asyncio.to_thread(server.wait) == 1
    assert "Cannot listen" in server.output
    assert "Traceback" not in server.output


@pytest.mark.parametrize("target", TARGETS)
async def test_serves_every_kind_of_target(tmp_path: Path, target: str) -> None:
    """The combined app, an async or plain factory and Django's WSGI app, dotted or colon."""
    cwd, port, base = new_project(tmp_path)
    with running(["-m", "aiodjango", target, "--port", str(port)], cwd, tmp_path) as server:
        assert await server.get(f"{base}/async/") == (200, "async VERSION-1")
        assert await server.get(f"{base}/sync/") == (200, "sync VERSION-1")
        server.signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.wait) == 0
    output = server.output
    # Logged once each, also when the project's LOGGING has its own aiodjango handler.
    assert output.count("Serving ") == 1, output
    assert output.count("Stopped.") == 1, output


async def test_logs_once_with_project_logging(tmp_path: Path) -> None:
    """A project LOGGING with a console handler on "aiodjango" (the demo's) prints lines once."""
    cwd, port, base = new_project(tmp_path)
    settings = cwd / "project" / "settings.py"
    settings.write_text(
        settings.read_text() + "\nLOGGING = {'version': 1, 'disable_existing_loggers': False,"
        " 'handlers': {'console': {'class': 'logging.StreamHandler'}},"
        " 'loggers': {'aiodjango': {'handlers': ['console'], 'level': 'INFO'}}}\n"
    )
    with running(
        ["-m", "aiodjango", "project.wsgi:app", "--port", str(port)], cwd, tmp_path
    ) as server:
        assert (await server.get(f"{base}/async/"))[0] == 200
        server.signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.wait) == 0
    assert server.output.count("Serving project.wsgi:app on") == 1, server.output
    assert server.output.count("Stopped.") == 1, server.output


@pytest.mark.parametrize(("target", "what"), BAD_TARGETS)
async def test_bad_target(tmp_path: Path, target: str, what: str) -> None:
    """A target that is not an app prints the loader's message and exits 2, no traceback."""
    cwd = copy_project(tmp_path)
    with running(["-m", "aiodjango", target, "--port", "0"], cwd, tmp_path) as server:
        assert await asyncio.to_thread(server.wait) == 2
    assert f"Error: {refusal(target, what)}" in server.output
    assert "Traceback" not in server.output


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("project", "expected module:attribute or module.attribute"),
        ("project.wsgi:nothing", "has no attribute 'nothing'"),
    ],
)
async def test_unimportable_target(tmp_path: Path, target: str, message: str) -> None:
    """A target that cannot be imported says why and exits 2."""
    cwd = copy_project(tmp_path)
    with running(["-m", "aiodjango", target], cwd, tmp_path) as server:
        assert await asyncio.to_thread(server.wait) == 2
    assert message in server.output
