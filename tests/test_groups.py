"""Groups on the memory backend, over real loopback servers and ``websockets`` clients."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from websockets.asyncio.client import connect

from aiodjango import get_aio_application, groups
from aiodjango.backends import dispatch_control
from aiodjango.backends.memory import MemoryBackend
from aiodjango.groups import (
    GROUPS_KEY,
    GroupsNotRunning,
    GroupStats,
    build_backend,
    on_control,
)
from aiodjango.testing import serve

from .groups_harness import SlowClient, join, recv_all, wait_for, worker

BIG: int = 64 * 1024  # bytes per frame in the slow-consumer tests: fills TCP buffers fast


async def test_publish_reaches_every_member_in_order() -> None:
    """Three members get the same 100 text, binary and JSON messages, in publish order."""
    backend = MemoryBackend()
    async with (
        worker(backend) as server,
        join(server, "room") as a,
        join(server, "room") as b,
        join(server, "room") as c,
    ):
        for i in range(100):
            if i % 3 == 0:
                await backend.publish("room", f"text {i}")
            elif i % 3 == 1:
                await backend.publish("room", f"bytes {i}".encode())
            else:
                await backend.publish_json("room", {"n": i})
        expected = [
            f"text {i}"
            if i % 3 == 0
            else f"bytes {i}".encode()
            if i % 3 == 1
            else json.dumps({"n": i})
            for i in range(100)
        ]
        for client in (a, b, c):
            assert await recv_all(client, 100) == expected
        assert backend.stats().delivered == 300
        assert backend.stats().published == 100


async def test_uncompressed_and_compressed_members_get_every_size_in_order() -> None:
    """A member without permessage-deflate (frames built once, written directly) and one with
    it (its own queue) get text and binary of every header size, in order, and all counted."""
    backend = MemoryBackend()
    sizes = (0, 1, 125, 126, 65_535, 65_536, 300_000)
    messages: list[str | bytes] = []
    for size in sizes:
        messages += ["é" * (size // 2) + "x" * (size % 2), bytes([size % 251]) * size]
    async with worker(backend) as server, join(server, "room") as deflating:
        url = f"ws://127.0.0.1:{server.port}/join?group=room"
        async with connect(url, proxy=None, max_size=None, compression=None) as plain:
            assert await plain.recv() == "joined"
            for message in messages:
                await backend.publish("room", message)
            assert await recv_all(plain, len(messages)) == messages
            assert await recv_all(deflating, len(messages)) == messages
    assert backend.stats().delivered == 2 * len(messages)


async def test_groups_are_separate_and_discard_works() -> None:
    """A member of "a" never sees "b"'s messages; after discard it sees no more of "a"'s."""
    backend = MemoryBackend()
    async with worker(backend) as server, join(server, "a") as in_a, join(server, "a", "b") as both:
        await backend.publish("b", "to b")
        await backend.publish("a", "to a")
        assert await recv_all(both, 2) == ["to b", "to a"]
        assert await in_a.recv() == "to a"
        await in_a.send("leave:a")
        assert await in_a.recv() == "left"
        await backend.publish("a", "after")
        assert await both.recv() == "after"
        await asyncio.sleep(0.05)  # a late frame would arrive by now; there must be none
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(in_a.recv(), 0.05)
        assert await backend.members("a") == 1


async def test_membership_ends_when_the_socket_closes() -> None:
    """A handler that never calls discard leaks nothing: closing the client empties the group."""
    backend = MemoryBackend()
    async with worker(backend) as server:
        async with join(server, "room", "other"):
            assert await backend.members("room") == 1
            assert backend.stats().sockets == 1
        await wait_for(lambda: backend.stats().sockets == 0, "the closed socket left")
        assert backend.stats().groups == 0
        assert await backend.members("room") == 0


async def test_module_api_uses_the_setting() -> None:
    """groups.* goes through the AIODJANGO_GROUPS backend, started by setup_groups."""
    config = {"BACKEND": "aiodjango.backends.memory.MemoryBackend", "QUEUE_SIZE": 7}
    with override_settings(AIODJANGO_GROUPS=config):
        backend = groups.get_backend()
        assert isinstance(backend, MemoryBackend) and backend.queue_size == 7
        assert groups.get_backend() is backend
        async with worker(backend) as server, join(server, "g") as client:
            await groups.publish("g", "one")
            await groups.publish_json("g", [2])
            await asyncio.to_thread(groups.publish_sync, "g", b"three")
            await asyncio.to_thread(groups.publish_json_sync, "g", {"four": 4})
            assert await recv_all(client, 4) == ["one", "[2]", b"three", '{"four": 4}']
            assert await groups.members("g") == 1
            assert groups.stats().published == 4
    with override_settings(AIODJANGO_GROUPS={"QUEUE_SIZE": 9}):
        assert groups.get_backend().queue_size == 9  # a stopped backend follows the setting


async def test_publish_sync_from_a_thread_without_a_loop() -> None:
    """publish_sync in a plain thread (no event loop there) reaches the server's sockets."""
    backend = MemoryBackend()
    async with worker(backend) as server, join(server, "room") as client:
        errors: list[BaseException] = []

        def publish() -> None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # the point: no loop in this thread
                for i in range(10):
                    backend.publish_sync("room", f"sync {i}")
            except BaseException as exc:  # pragma: no cover - reported by the assert below
                errors.append(exc)

        thread = threading.Thread(target=publish)
        thread.start()
        assert await recv_all(client, 10) == [f"sync {i}" for i in range(10)]
        thread.join()
        assert errors == []


def test_publish_sync_without_a_server_says_why() -> None:
    """With no server in the process the memory backend refuses, naming the Redis backend."""
    with pytest.raises(GroupsNotRunning, match="Redis backend"):
        MemoryBackend().publish_sync("room", "lost?")
    with pytest.raises(GroupsNotRunning, match="setup_groups"):
        asyncio.run(MemoryBackend().add("room", None))  # type: ignore[arg-type]


def test_publish_refuses_other_types() -> None:
    """publish() takes str or bytes only, and its error names publish_json."""
    with pytest.raises(TypeError, match="publish_json"):
        MemoryBackend().publish_sync("room", {"a": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="non-empty str"):
        MemoryBackend().publish_sync("", "x")


async def test_slow_consumer_is_closed_with_1013_and_fast_ones_get_everything() -> None:
    """Policy "close": a client that never reads gets 1013; fast members get all, in order."""
    backend = MemoryBackend(queue_size=4, slow_policy="close")
    async with worker(backend) as server, join(server, "room") as fast, join(server, "room") as f2:
        slow = await SlowClient.join(server, "room")
        for i in range(200):
            await backend.publish("room", f"{i:08d}".ljust(BIG, "."))
            assert (await fast.recv())[:8] == f"{i:08d}"  # paced by the fast clients only
            assert (await f2.recv())[:8] == f"{i:08d}"
        assert backend.stats().closed_slow == 1
        assert await backend.members("room") == 2
        numbers: list[int] = []
        while (frame := await slow.frame())[0] == 1:
            numbers.append(int(frame[1][:8]))
        assert frame[0] == 8 and int.from_bytes(frame[1][:2], "big") == 1013
        assert numbers == list(range(len(numbers))) and len(numbers) < 200
        slow.close()
        assert backend.stats().dropped == 0


async def test_slow_consumer_drops_oldest_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    """Policy "drop_oldest": the slow client stays, gets the newest frames, drops are counted."""
    backend = MemoryBackend(queue_size=4, slow_policy="drop_oldest")
    async with worker(backend) as server, join(server, "room") as fast:
        slow = await SlowClient.join(server, "room")
        with caplog.at_level(logging.WARNING, "aiodjango.groups"):
            for i in range(200):
                await backend.publish("room", f"{i:08d}".ljust(BIG, "."))
                assert (await fast.recv())[:8] == f"{i:08d}"
        dropped = backend.stats().dropped
        assert dropped > 0
        assert "Dropped the oldest queued frame" in caplog.text
        got: list[int] = []
        while not got or got[-1] != 199:
            kind, payload = await slow.frame()
            assert kind == 1
            got.append(int(payload[:8]))
        assert got == sorted(set(got))  # in order, no duplicates
        assert len(got) + dropped == 200  # every frame was either sent or counted
        assert backend.stats().closed_slow == 0
        slow.close()


async def test_control_messages_reach_handlers() -> None:
    """send_control (async and from a thread) runs the on_control handlers with the payload."""
    name = f"test.control.{secrets.token_hex(4)}"
    seen: list[dict[str, object]] = []
    done = asyncio.Event()

    @on_control(name)
    async def record(payload: dict[str, object]) -> None:
        seen.append(payload)
        if len(seen) == 2:
            done.set()

    backend = MemoryBackend()
    async with worker(backend):
        await backend.send_control(name, {"user": "7", "code": 4001})
        await asyncio.to_thread(backend.send_control_sync, name, {"user": "8"})
        await asyncio.wait_for(done.wait(), 10)
    assert seen == [{"user": "7", "code": 4001}, {"user": "8"}]
    MemoryBackend().send_control_sync(name, {"user": "9"})  # no server: nobody to reach
    assert len(seen) == 2


def test_control_handler_errors_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A failing control handler is logged and does not stop the others."""
    name = f"test.control.{secrets.token_hex(4)}"
    calls: list[str] = []

    @on_control(name)
    def boom(payload: dict[str, object]) -> None:
        raise ValueError("boom")

    @on_control(name)
    def fine(payload: dict[str, object]) -> None:
        calls.append("fine")

    with caplog.at_level(logging.ERROR, "aiodjango.groups"):
        dispatch_control(name, {})
    assert calls == ["fine"]
    assert "Control handler" in caplog.text


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("redis://", "must be a dict"),
        ({"BACKEND": "no.such.Backend"}, "cannot be imported"),
        ({"BACKEND": "aiodjango.groups.GROUPS_KEY"}, "GroupBackend subclass"),
        ({"URL": "redis://x"}, "does not take: \\['URL'\\]"),
        ({"QUEUE_SIZE": 0}, "QUEUE_SIZE.*integer >= 1"),
        ({"QUEUE_SIZE": True}, "QUEUE_SIZE.*integer >= 1"),
        ({"SLOW_POLICY": "wait"}, "SLOW_POLICY.*one of"),
        ({"BACKEND": "aiodjango.backends.redis.RedisBackend", "URL": "http://x"}, "URL"),
        ({"BACKEND": "aiodjango.backends.redis.RedisBackend", "PREFIX": ""}, "PREFIX"),
        ({"BACKEND": "aiodjango.backends.redis.RedisBackend", "MAXLEN": -1}, "MAXLEN"),
    ],
)
def test_bad_settings_raise_improperly_configured(config: object, message: str) -> None:
    """Every AIODJANGO_GROUPS mistake is an ImproperlyConfigured naming the key."""
    with pytest.raises(ImproperlyConfigured, match=message):
        build_backend(config)


def test_stats_is_a_frozen_snapshot() -> None:
    """stats() returns a GroupStats that later events do not change."""
    backend = MemoryBackend()
    snapshot = backend.stats()
    assert snapshot == GroupStats(0, 0, 0, 0, 0, 0, 0, 0)
    backend._counts["delivered"] += 1
    assert snapshot.delivered == 0 and backend.stats().delivered == 1
    assert "stopped" in repr(backend)


async def test_get_aio_application_starts_and_stops_the_backend() -> None:
    """The combined app runs the AIODJANGO_GROUPS backend for as long as it serves."""
    with override_settings(AIODJANGO_GROUPS={"QUEUE_SIZE": 11}):
        app = get_aio_application()
        backend = app[GROUPS_KEY]
        assert backend is groups.get_backend() and backend.queue_size == 11
        async with serve(app):
            assert backend.loop is not None
            await groups.publish_json("nobody", {})  # no member anywhere: nothing to do
            assert groups.stats().published == 1
        assert backend.loop is None
