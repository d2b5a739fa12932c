"""Groups on the Redis backend: two backends are two workers sharing the real Redis.

Every test uses its own key prefix and deletes only its keys. Without Redis on 127.0.0.1:6379
these tests skip, except under CI=1, where they fail.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from aiodjango.backends.redis import RedisBackend
from aiodjango.groups import on_control

from .groups_harness import join, recv_all, wait_for, worker

URL = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", autouse=True)
def redis_up() -> None:
    """Redis answers, or the module skips (fails under CI: these tests never skip there)."""
    try:
        redis.Redis.from_url(URL, socket_connect_timeout=2).ping()
    except redis.ConnectionError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {URL} does not answer and CI is set: {exc}")
        pytest.skip(f"Redis at {URL} does not answer: {exc}")


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards (never FLUSHALL)."""
    name = f"aiodjango-test-{os.getpid()}-{secrets.token_hex(4)}"
    yield name
    client = redis.Redis.from_url(URL)
    keys = list(client.scan_iter(match=f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
async def admin() -> AsyncIterator[aioredis.Redis]:
    """A Redis client for the test itself (CLIENT LIST / KILL, direct reads)."""
    client = aioredis.Redis.from_url(URL)
    yield client
    await client.aclose()


def backend(prefix: str, **kwargs: int) -> RedisBackend:
    return RedisBackend(url=URL, prefix=prefix, **kwargs)  # type: ignore[arg-type]


async def kill_reader(admin: aioredis.Redis, backend: RedisBackend) -> None:
    """CLIENT KILL the backend's reader connection, found by its CLIENT SETNAME."""
    assert await admin.client_kill_filter(_id=await reader_id(admin, backend)) == 1


async def reader_id(admin: aioredis.Redis, backend: RedisBackend) -> str:
    """The CLIENT ID of the backend's reader connection, once it is (re)connected."""
    name = backend.client_names[0]
    ids: list[str] = []

    async def connected() -> bool:
        ids[:] = [c["id"] for c in await admin.client_list() if c.get("name") == name]
        return len(ids) == 1

    await wait_for(connected, f"{name} is connected")
    return ids[0]


async def test_two_workers_get_every_message_in_one_order(prefix: str) -> None:
    """Members on two workers get the messages of both publishers, in the same total order."""
    a, b = backend(prefix), backend(prefix)

    async def publish(via: RedisBackend, tag: str) -> None:
        for i in range(50):
            await via.publish("room", f"{tag}{i}")

    async with (
        worker(a) as server_a,
        worker(b) as server_b,
        join(server_a, "room") as on_a,
        join(server_b, "room") as on_b,
    ):
        await asyncio.gather(publish(a, "a"), publish(b, "b"))
        got_a, got_b = await recv_all(on_a, 100), await recv_all(on_b, 100)
        assert got_a == got_b  # one order for everybody: the stream's
        for tag in "ab":  # and each publisher's own order kept
            assert [m for m in got_a if str(m)[0] == tag] == [f"{tag}{i}" for i in range(50)]
        assert a.stats().delivered == 100 and b.stats().delivered == 100
        assert a.stats().published == 50


async def test_binary_and_json_cross_workers(prefix: str) -> None:
    """bytes stay binary frames and JSON stays text across Redis."""
    a, b = backend(prefix), backend(prefix)
    async with worker(a) as server_a, worker(b), join(server_a, "g") as client:
        await b.publish("g", b"\x00\xff")
        await b.publish_json("g", {"x": [1, "é"]})
        assert await recv_all(client, 2) == [b"\x00\xff", '{"x": [1, "\\u00e9"]}']


async def test_sync_publish_from_a_thread_and_a_subprocess(prefix: str) -> None:
    """publish_sync needs no loop: a plain thread and a separate process (a command) reach us."""
    a = backend(prefix)
    async with worker(a) as server, join(server, "room") as client:
        thread = threading.Thread(target=a.publish_sync, args=("room", "from a thread"))
        thread.start()
        assert await client.recv() == "from a thread"
        thread.join()
        script = (
            "import django; from django.conf import settings\n"
            "settings.configure(AIODJANGO_GROUPS={'BACKEND': "
            f"'aiodjango.backends.redis.RedisBackend', 'URL': {URL!r}, 'PREFIX': {prefix!r}}})\n"
            "django.setup()\n"
            "from aiodjango import groups\n"
            "groups.publish_sync('room', 'from a process')\n"
            "groups.publish_json_sync('room', {'n': 2})\n"
        )
        done = await asyncio.create_subprocess_exec(sys.executable, "-c", script, cwd=ROOT)
        assert await done.wait() == 0
        assert await recv_all(client, 2) == ["from a process", '{"n": 2}']


async def test_presence_counts_every_worker_and_ends_with_the_socket(prefix: str) -> None:
    """members() adds up both workers; a closed socket leaves by itself, everywhere."""
    a, b = backend(prefix), backend(prefix)
    async with worker(a) as server_a, worker(b) as server_b:
        async with join(server_a, "room"), join(server_b, "room"):
            async with join(server_b, "room"):
                assert await a.members("room") == 3
            await wait_for(lambda: b.stats().sockets == 1, "the closed socket left worker b")
            await wait_for(lambda: _equals(a.members("room"), 2), "presence caught up")
        await wait_for(lambda: _equals(b.members("room"), 0), "every socket left")
        assert a.stats().groups == 0 and b.stats().groups == 0


async def _equals(count: Awaitable[int], expected: int) -> bool:
    return await count == expected


async def test_client_kill_mid_stream_loses_nothing(
    prefix: str, admin: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Killing the reader's connection mid-stream: delivery resumes by itself, no number lost."""
    a, b = backend(prefix), backend(prefix)
    async with worker(a) as server_a, worker(b), join(server_a, "numbers") as client:
        with caplog.at_level(logging.WARNING, "aiodjango.groups"):
            for i in range(300):
                await b.publish("numbers", str(i))
                if i in (100, 200):
                    await kill_reader(admin, a)
            assert await recv_all(client, 300) == [str(i) for i in range(300)]
        assert a.stats().reconnects >= 2
        assert a.stats().gaps == 0
        assert "Lost the groups Redis connection" in caplog.text


async def test_gap_past_maxlen_is_counted_and_logged(
    prefix: str, admin: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Trimmed past the resume point while disconnected: the gap is counted, delivery goes on."""
    a = backend(prefix, maxlen=10)
    async with worker(a) as server, join(server, "room") as client:
        await a.publish("room", "before")
        assert await client.recv() == "before"
        reader = await reader_id(admin, a)
        key = a.group_key("room")
        with caplog.at_level(logging.WARNING, "aiodjango.groups"):
            # One transaction: the reader is cut off and 1,000 entries pass before it returns.
            async with admin.pipeline(transaction=True) as pipe:
                pipe.client_kill_filter(_id=reader)
                for i in range(1000):
                    pipe.xadd(key, {b"t": b"s", b"d": str(i).encode()}, maxlen=10)
                await pipe.execute()
            await a.publish("room", "after")
            got: list[str | bytes] = []
            while not got or got[-1] != "after":
                got.append(await client.recv())
        assert a.stats().gaps == 1
        assert "trimmed past its resume point" in caplog.text
        assert "0" not in got and "999" in got  # the oldest were lost, the newest arrived


async def test_control_reaches_every_worker(prefix: str) -> None:
    """send_control from one worker, or from a thread, runs the handler in both workers."""
    name = f"test.close-user.{secrets.token_hex(4)}"
    seen: list[dict[str, object]] = []

    @on_control(name)  # a fake consumer standing in for "close this user's sockets"
    def record(payload: dict[str, object]) -> None:
        seen.append(payload)

    a, b = backend(prefix), backend(prefix)
    async with worker(a), worker(b):
        await a.send_control(name, {"user": "42", "code": 4001})
        await wait_for(lambda: len(seen) == 2, "both workers ran the handler")
        await asyncio.to_thread(b.send_control_sync, name, {"user": "43"})
        await wait_for(lambda: len(seen) == 4, "both workers ran it again")
    assert seen == [{"user": "42", "code": 4001}] * 2 + [{"user": "43"}] * 2


async def test_stop_removes_the_worker_from_redis(prefix: str, admin: aioredis.Redis) -> None:
    """After its app stops a worker leaves no presence, heartbeat or wake key behind."""
    a = backend(prefix)
    async with worker(a) as server, join(server, "room"):
        assert await admin.exists(f"{prefix}:alive:{a.worker}") == 1
    assert await admin.hgetall(f"{prefix}:p:room") == {}
    assert await admin.exists(f"{prefix}:alive:{a.worker}", f"{prefix}:wake:{a.worker}") == 0
    assert await admin.exists(a.group_key("room")) == 0  # nothing was published: no stream
