"""Groups under gunicorn with 2 workers on the real Redis: one client on each worker, forced.

The serving project runs with ``SERVING_GROUPS_PREFIX`` (the Redis backend under a key prefix of
this run alone, users and sessions in a shared SQLite file). Its ``/room/`` websocket joins group
"room", says ``{"pid": ...}`` first and publishes what it receives, so a test opens sockets until
it has one on each worker. Without Redis on 127.0.0.1:6379 these tests skip, except under CI=1,
where they fail. gunicorn is stopped by its PID (the process group it leads).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import redis

from .groups_harness import SlowClient
from .serving.harness import REPO, Server, copy_project, free_port, running

pytest.importorskip("gunicorn")

URL = "redis://127.0.0.1:6379/0"
WORKER = "aiodjango.workers.GunicornWorker"
QUEUE_SIZE = 32  # the slow consumer's frames waiting past this: closed with 1013
BIG = 32 * 1024  # bytes per message in the slow-consumer test
MAX_TRIES = 200  # connections opened at most to find both workers (a hang guard)
HANG = 30.0  # seconds a receive may wait: a hang guard for a lost message, not a speed bound


@dataclass
class Served:
    """The running project: where it listens, how to run its manage.py, its Redis prefix."""

    base: str
    port: int
    cwd: Path
    env: dict[str, str]
    server: Server

    def manage(self, *args: str) -> str:
        """Run ``manage.py args`` with the server's settings; its output."""
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """gunicorn, 2 aiodjango workers, the Redis groups backend; users alice and bob exist."""
    try:
        redis.Redis.from_url(URL, socket_connect_timeout=2).ping()
    except redis.ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {URL} does not answer and CI is set: {exc}")
        pytest.skip(f"Redis at {URL} does not answer: {exc}")
    tmp = tmp_path_factory.mktemp("multiworker")
    prefix = f"aiodjango-test-{os.getpid()}-{secrets.token_hex(4)}"
    cwd, port = copy_project(tmp), free_port()
    extra = {
        "SERVING_GROUPS_PREFIX": prefix,
        "SERVING_DB": str(tmp / "db.sqlite3"),
        "SERVING_GROUPS_QUEUE_SIZE": str(QUEUE_SIZE),
        "DJANGO_SUPERUSER_PASSWORD": "pw",
    }
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(cwd), str(REPO)]),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        **extra,
    }
    args = [
        *("-m", "gunicorn", "project.wsgi:app", "--worker-class", WORKER, "--workers", "2"),
        *("--bind", f"127.0.0.1:{port}", "--no-control-socket"),
    ]
    try:
        with running(args, cwd, tmp, extra) as server:
            served = Served(f"http://127.0.0.1:{port}", port, cwd, env, server)
            served.manage("migrate", "--verbosity", "0")
            for name in ("alice", "bob"):
                served.manage(
                    "createsuperuser", "--noinput", "--username", name, "--email", "x@example.com"
                )
            _wait_until_booted(served)
            yield served
    finally:
        client = redis.Redis.from_url(URL)
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)  # this run's keys only, never FLUSHALL
        client.close()


def _wait_until_booted(served: Served) -> None:
    """Both workers booted and the server answers (a hang guard, not a speed expectation)."""
    for _ in range(600):
        if served.server.output.count("Booting worker with pid") == 2:
            try:
                with urllib.request.urlopen(f"{served.base}/sync/", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
        if served.server.process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not start:\n{served.server.output}")


async def one_per_worker(
    session: aiohttp.ClientSession, served: Served
) -> dict[int, aiohttp.ClientWebSocketResponse]:
    """A "room" socket on each of the 2 workers: connect until both pids answered.

    Connections are opened in concurrent batches, held while the batch is open, with a pause
    between batches: one after the other, an idle worker that won the last accept() tends to
    win the next one too, and a worker still importing the project accepts nothing yet.
    """
    found: dict[int, aiohttp.ClientWebSocketResponse] = {}

    async def connect() -> tuple[int, aiohttp.ClientWebSocketResponse]:
        ws = await session.ws_connect(f"{served.base}/room/")
        return (await ws.receive_json())["pid"], ws

    for _ in range(MAX_TRIES // 8):
        for pid, ws in await asyncio.gather(*(connect() for _ in range(8))):
            if pid in found:
                await ws.close()
            else:
                found[pid] = ws
        if len(found) == 2:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"{MAX_TRIES} connections all reached worker(s) {sorted(found)}")


async def expect_everywhere(sockets: dict[int, aiohttp.ClientWebSocketResponse], text: str) -> None:
    """Every socket's next message is ``text``."""
    for pid, ws in sockets.items():
        assert await asyncio.wait_for(ws.receive_str(), HANG) == text, f"worker {pid}"


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> int:
    """The code of the close frame ``ws`` receives next."""
    message = await asyncio.wait_for(ws.receive(), HANG)
    assert message.type == aiohttp.WSMsgType.CLOSE, message
    return int(message.data)


async def log_in(session: aiohttp.ClientSession, served: Served, name: str) -> str:
    """Log ``name`` in through the project's login view; the CSRF token for the logout."""
    data = {"username": name, "password": "pw"}
    async with session.post(f"{served.base}/login/", data=data) as response:
        assert response.status == 200, await response.text()
        return await response.text()


async def test_every_publisher_reaches_both_workers(served: Served) -> None:
    """A message from a client on either worker, from a sync Django view and from a management
    command reaches the sockets on both workers."""
    async with aiohttp.ClientSession() as session:
        sockets = await one_per_worker(session, served)
        try:
            for pid, ws in sockets.items():
                await ws.send_str(f"from a client on {pid}")
                await expect_everywhere(sockets, f"from a client on {pid}")
            async with session.get(f"{served.base}/publish/?text=from+a+view") as response:
                assert await response.text() == "published"
                assert int(response.headers["X-Worker-Pid"]) in sockets
            await expect_everywhere(sockets, "from a view")
            await asyncio.to_thread(served.manage, "publish", "room", "from a command")
            await expect_everywhere(sockets, "from a command")
        finally:
            for ws in sockets.values():
                await ws.close()


async def test_logout_in_one_worker_closes_the_socket_in_the_other(served: Served) -> None:
    """Django's LogoutView served by one worker closes alice's sockets on both workers with
    4001, the other worker's through Redis; anonymous sockets stay open."""
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as alice, aiohttp.ClientSession() as anon:
        token = await log_in(alice, served, "alice")
        mine = await one_per_worker(alice, served)
        others = await one_per_worker(anon, served)
        try:
            headers = {"X-CSRFToken": token}
            async with alice.post(
                f"{served.base}/logout/", headers=headers, allow_redirects=False
            ) as response:
                assert response.status == 302, await response.text()
                here = int(response.headers["X-Worker-Pid"])
            [there] = set(mine) - {here}
            assert await closed_with(mine[there]) == 4001  # the worker that did not log out
            assert await closed_with(mine[here]) == 4001
            await asyncio.to_thread(served.manage, "publish", "room", "still open")
            await expect_everywhere(others, "still open")
        finally:
            for ws in [*mine.values(), *others.values()]:
                await ws.close()


async def test_management_command_closes_a_users_sockets_in_every_worker(served: Served) -> None:
    """close_user_websockets() from a management command (no server in it) closes bob's
    sockets on both workers with 4001."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as bob:
        await log_in(bob, served, "bob")
        sockets = await one_per_worker(bob, served)
        try:
            await asyncio.to_thread(served.manage, "closeuser", "bob")
            for ws in sockets.values():
                assert await closed_with(ws) == 4001
        finally:
            for ws in sockets.values():
                await ws.close()


async def test_slow_consumer_is_closed_while_fast_ones_get_everything_in_order(
    served: Served,
) -> None:
    """A client that never reads is closed by the "close" policy (counted in its worker), while
    fast clients on both workers get every numbered message, in order."""
    count = 300  # 300 x 32 KiB: far past the slow socket's queue and kernel buffers
    async with aiohttp.ClientSession() as session:
        fast = await one_per_worker(session, served)
        slow = await SlowClient.open(served.port, "/room/")
        try:
            _, first = await slow.frame()
            slow_pid = json.loads(first)["pid"]
            publisher = next(iter(fast.values()))
            for number in range(count):
                await publisher.send_str(f"{number:06d}".ljust(BIG, "."))
                for pid, ws in fast.items():  # paced by the fast clients only
                    assert (await ws.receive_str())[:6] == f"{number:06d}", f"worker {pid}"
            stats = await _stats_of(slow_pid, served)
            assert stats["closed_slow"] >= 1
            numbers, end = await _read_to_the_end(slow)
            assert numbers == list(range(len(numbers))) and len(numbers) < count
            assert end in ("close 1013", "eof"), end
        finally:
            slow.close()
            for ws in fast.values():
                await ws.close()


async def _stats_of(pid: int, served: Served) -> dict[str, int]:
    """The groups counters of worker ``pid`` (new connections until one lands on it)."""
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(MAX_TRIES):
            async with session.get(f"{served.base}/group-stats/") as response:
                stats: dict[str, int] = await response.json()
            if stats["pid"] == pid:
                return stats
    raise AssertionError(f"no request reached worker {pid}")


async def _read_to_the_end(slow: SlowClient) -> tuple[list[int], str]:
    """The numbers the slow client got, and how its stream ended: a close frame or EOF.

    The server aborts a close that cannot flush (AIODJANGO_WS_CLOSE_TIMEOUT), so the last
    frame may be cut short: that counts as EOF.
    """
    numbers: list[int] = []
    try:
        while True:
            opcode, payload = await slow.frame()
            if opcode == 8:
                return numbers, f"close {int.from_bytes(payload[:2], 'big')}"
            numbers.append(int(payload[:6]))
    except (asyncio.IncompleteReadError, ConnectionResetError):
        return numbers, "eof"
