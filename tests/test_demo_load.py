"""No lost data in the demo chat: many clients, reconnects and a SIGTERM mid-load.

The demo runs under gunicorn with 2 aiodjango workers, the Redis groups backend and a fresh
PostgreSQL database. 200 websocket clients in 10 rooms join, then each sends numbered messages
with client ids as the page does (an outbox resent after every reconnect, catch-up with
``?after=``); every fifth client also drops its socket on purpose half-way, and gunicorn is
stopped with SIGTERM and started again while they send. Then every acknowledged message must
be stored exactly once, and every client must have received every acknowledged message of its
room. Skipped when PostgreSQL or Redis does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from tests.helpers import next_frame, presence_until
from tests.serving.harness import Server, free_port, running

pytest.importorskip("gunicorn")
psycopg = pytest.importorskip("psycopg", reason="the load test runs on PostgreSQL")
redis = pytest.importorskip("redis")

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get("AIODJANGO_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("AIODJANGO_TEST_REDIS", "redis://127.0.0.1:6379/0")
ROOMS = 10

CLIENTS = 200
MESSAGES = 8  # per client
DEADLINE = 90.0  # a hang guard, not a speed expectation


@dataclass
class Client:
    """One chat page: an outbox until acks, message numbers for ``?after=``, what it got."""

    number: int
    room: str
    session: aiohttp.ClientSession
    outbox: dict[str, str] = field(default_factory=dict)
    acked: dict[str, int] = field(default_factory=dict)  # client id -> message id
    received: set[int] = field(default_factory=set)  # message ids
    seqs: set[int] = field(default_factory=set)
    cursor: int | None = None
    sent: int = 0
    connects: int = 0
    resent: int = 0
    duplicates: int = 0
    early: int = 0  # message frames that came before their connection's history
    ws: aiohttp.ClientWebSocketResponse | None = None  # the open socket, if any
    workers: set[int] = field(default_factory=set)
    errors: list[object] = field(default_factory=list)

    def url(self, base: str) -> str:
        """The room's websocket URL, with ``?after=`` once the client has a position."""
        url = f"{base.replace('http', 'ws', 1)}/ws/rooms/{self.room}/"
        return url if self.cursor is None else f"{url}?after={self.cursor}"

    def seen(self, message: dict[str, Any]) -> None:
        """Record a message (history, live or ack) and advance the gap-free position."""
        if message["id"] in self.received:
            self.duplicates += 1
        self.received.add(message["id"])
        self.seqs.add(message["seq"])
        self.advance()

    def advance(self) -> None:
        """Move the position over every number seen right after it."""
        if self.cursor is not None:
            while self.cursor + 1 in self.seqs:
                self.cursor += 1

    @property
    def done(self) -> bool:
        """Every message of this client is acknowledged."""
        return len(self.acked) == MESSAGES


@dataclass
class Load:
    """The shared state of one run."""

    base: str
    clients: list[Client]
    joined: asyncio.Event = field(default_factory=asyncio.Event)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def acked(self) -> int:
        """Messages acknowledged so far, over all clients."""
        return sum(len(c.acked) for c in self.clients)


def handle(client: Client, frame: dict[str, Any]) -> None:
    """Apply one live frame, as chat.js does (at any time, before the history too)."""
    if frame["type"] == "message":
        client.seen(frame["message"])
    elif frame["type"] == "ack":
        client.outbox.pop(frame["id"], None)
        client.acked[frame["id"]] = frame["message"]["id"]
        client.seen(frame["message"])
    elif frame["type"] == "error":
        client.errors.append(frame)


async def serve_connection(load: Load, client: Client, ws: aiohttp.ClientWebSocketResponse) -> None:
    """Read frames and send the client's messages until the socket closes or the run stops."""
    history = None
    while history is None:
        raw = await ws.receive(timeout=DEADLINE)
        if raw.type is not aiohttp.WSMsgType.TEXT:
            return  # closed before the history: the server is stopping
        frame = raw.json()
        if frame["type"] == "history":
            history = frame
        else:  # the socket joins the room's group before the history is read: live frames
            client.early += frame["type"] == "message"  # published meanwhile may come first
            handle(client, frame)
    if load.stop.is_set():
        return
    client.connects += 1
    client.workers.add(history["worker"])
    for message in history["messages"]:
        client.seen(message)
    if client.cursor is None:
        client.cursor = max((m["seq"] for m in history["messages"]), default=0)
        client.advance()  # over live messages that came before the history
    for client_id, text in client.outbox.items():  # as chat.js does after a reconnect
        client.resent += 1
        await ws.send_json({"text": text, "id": client_id})
    if client.connects == 1 and sum(c.connects > 0 for c in load.clients) == len(load.clients):
        load.joined.set()

    async def send() -> None:
        await load.joined.wait()
        while client.sent < MESSAGES:
            if client.number % 5 == 0 and client.sent == MESSAGES // 2 and client.connects == 1:
                await ws.close()  # drop the socket on purpose; reconnect with ?after=
                return
            client_id = f"{client.number}-{client.sent}-{uuid.uuid4().hex[:8]}"
            text = f"client {client.number} message {client.sent}"
            client.outbox[client_id] = text
            client.sent += 1
            await ws.send_json({"text": text, "id": client_id})
            await asyncio.sleep(0.05 + (client.number % 7) / 50)

    sender = asyncio.ensure_future(send())
    try:
        async for raw in ws:
            if raw.type is not aiohttp.WSMsgType.TEXT:
                break
            handle(client, raw.json())
            if load.stop.is_set():
                break
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
            await sender


async def run_client(load: Load, client: Client) -> None:
    """Connect, serve, reconnect with a short backoff, until the run stops."""
    origin = {"Origin": load.base}
    while not load.stop.is_set():
        try:
            async with client.session.ws_connect(client.url(load.base), headers=origin) as ws:
                client.ws = ws
                try:
                    await serve_connection(load, client, ws)
                finally:
                    client.ws = None
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            pass
        if not load.stop.is_set():
            await asyncio.sleep(0.1 + (client.number % 10) / 20)


async def stop(load: Load, tasks: Sequence[asyncio.Future[None]]) -> None:
    """End the clients by closing their sockets; cancel only what does not end by itself.

    A task cancelled inside ``ws_connect`` leaves an aiohttp ``Connection`` that warns
    (ResourceWarning) whenever it is collected, in whichever test that happens.
    """
    load.stop.set()
    open_sockets = [c.ws for c in load.clients if c.ws is not None]
    await asyncio.gather(*(ws.close() for ws in open_sockets), return_exceptions=True)
    _, pending = await asyncio.wait(tasks, timeout=30)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def log_in(base: str, username: str) -> aiohttp.ClientSession:
    """A session logged in through Django's login form (shared by that user's clients)."""
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.get(f"{base}/accounts/login/") as page:
        await page.read()
    token = session.cookie_jar.filter_cookies(URL(base))["csrftoken"].value
    form = {"username": username, "password": f"{username}-demo-pw", "csrfmiddlewaretoken": token}
    async with session.post(f"{base}/accounts/login/", data=form, allow_redirects=False) as done:
        assert done.status == 302, await done.text()
    return session


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database, migrated, with the demo users and the load's rooms."""
    name = f"test_aiodjango_demo_load_{os.getpid()}"
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {exc}")
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        url = POSTGRES.rsplit("/", 1)[0] + f"/{name}"
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "demo.settings", "DATABASE_URL": url}
        rooms = "; ".join(
            f"Room.objects.create(slug='load-{i}', name='Load {i}')" for i in range(ROOMS)
        )
        for command in (
            ["migrate", "--no-input", "-v0"],
            ["createdemo"],
            ["shell", "-c", f"from chat.models import Room; {rooms}"],
        ):
            subprocess.run(
                [sys.executable, "demo/manage.py", *command],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
        try:
            yield url
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def stored(url: str) -> list[tuple[int, str, str, int]]:
    """Every stored message of the load's rooms: (id, user, client id, room seq)."""
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT m.id, u.username, m.client_id, m.seq FROM chat_message m "
            "JOIN auth_user u ON u.id = m.user_id JOIN chat_room r ON r.id = m.room_id "
            "WHERE r.slug LIKE 'load-%'"
        ).fetchall()
    return [(int(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


async def test_every_acknowledged_message_is_stored_once_and_delivered(
    database: str, tmp_path: Path
) -> None:
    """200 clients in 10 rooms over 2 workers, with planned reconnects and a SIGTERM and
    restart mid-load: each acknowledged message is stored once and reached every client of its
    room (live, or through ``?after=`` on reconnect)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        *("-m", "gunicorn", "demo.wsgi:app", "--worker-class", "aiodjango.workers.GunicornWorker"),
        *("--workers", "2", "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "10"),
    ]
    env = {
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "DATABASE_URL": database,
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": f"test-demo-load-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        "DJANGO_DEBUG": "0",
    }
    generations: list[Server] = []

    @contextlib.contextmanager
    def gunicorn() -> Iterator[Server]:
        with running(args, ROOT / "demo", tmp_path / f"gen{len(generations)}", env) as server:
            generations.append(server)
            yield server

    (tmp_path / "gen0").mkdir()
    (tmp_path / "gen1").mkdir()
    with gunicorn() as first:
        await first.get(f"{base}/accounts/login/")
        sessions = [await log_in(base, "alice"), await log_in(base, "bob")]
        clients = [
            Client(number=i, room=f"load-{i % ROOMS}", session=sessions[i % 2])
            for i in range(CLIENTS)
        ]
        load = Load(base, clients)
        tasks = [asyncio.ensure_future(run_client(load, c)) for c in clients]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        while load.acked < CLIENTS * MESSAGES // 3:
            if loop.time() > deadline:  # a hang guard, not a speed check
                pytest.fail(f"only {load.acked} acks:\n{first.output[-3000:]}")
            await asyncio.sleep(0.05)
        acked_before_sigterm = load.acked
        first.signal(signal.SIGTERM)
        assert await asyncio.to_thread(first.wait, 30) == 0, first.output[-3000:]
    try:
        with gunicorn() as second:
            await second.get(f"{base}/accounts/login/")
            while not all(c.done for c in clients):
                if loop.time() > deadline:  # a hang guard, not a speed check
                    pytest.fail(f"acks: {load.acked}\n{second.output[-3000:]}")
                await asyncio.sleep(0.05)
            by_room: dict[str, set[int]] = {}
            for c in clients:
                by_room.setdefault(c.room, set()).update(c.acked.values())
            # Deliveries still in flight when the last client finished get a guard of their
            # own (a loaded CI machine may have used up the run's deadline by then).
            delivery_deadline = loop.time() + 30
            while not all(by_room[c.room] <= c.received for c in clients):
                if loop.time() > delivery_deadline:
                    break
                await asyncio.sleep(0.05)
            await stop(load, tasks)
    finally:
        if not load.stop.is_set():  # a failure above: end the clients all the same
            await stop(load, tasks)
        for session in sessions:
            await session.close()
        # Client tasks cancelled inside ws_connect leave aiohttp Connection objects that warn
        # when collected: collect them here, where that is expected, not in a later test.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()

    rows = stored(database)
    by_client_id: dict[tuple[str, str], list[int]] = {}
    for message_id, user, client_id, _ in rows:
        by_client_id.setdefault((user, client_id), []).append(message_id)
    acked = {
        (("alice", "bob")[c.number % 2], client_id): message_id
        for c in clients
        for client_id, message_id in c.acked.items()
    }
    missing = {
        c.number: len(by_room[c.room] - c.received) for c in clients if by_room[c.room] - c.received
    }
    workers = set().union(*(c.workers for c in clients))
    print(
        f"\nclients={CLIENTS} rooms={ROOMS} acknowledged={len(acked)} stored={len(rows)} "
        f"acked before SIGTERM={acked_before_sigterm} connects={sum(c.connects for c in clients)} "
        f"resent={sum(c.resent for c in clients)} duplicates dropped="
        f"{sum(c.duplicates for c in clients)} before history={sum(c.early for c in clients)} "
        f"worker pids={len(workers)} "
        f"clients missing messages={len(missing)}"
    )
    assert [e for c in clients for e in c.errors] == []
    assert len(acked) == CLIENTS * MESSAGES
    assert {key: ids for key, ids in by_client_id.items() if len(ids) != 1} == {}
    assert all(by_client_id[key] == [message_id] for key, message_id in acked.items())
    assert len(rows) == len(acked)  # nothing stored that no one acknowledged
    assert missing == {}
    assert sum(c.resent for c in clients) > 0  # the SIGTERM did cut messages in flight
    assert len(workers) >= 2


async def test_a_killed_worker_leaves_no_ghost_in_presence(database: str, tmp_path: Path) -> None:
    """A worker killed with SIGKILL cleans nothing up, yet its user leaves the room's Online
    list once its presence rows expire (CHAT_PRESENCE_TTL), published by the live worker."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        *("-m", "gunicorn", "demo.wsgi:app", "--worker-class", "aiodjango.workers.GunicornWorker"),
        *("--workers", "2", "--bind", f"127.0.0.1:{port}"),
    ]
    env = {
        "DJANGO_SETTINGS_MODULE": "demo.settings",
        "DATABASE_URL": database,
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": f"test-demo-ghost-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        "CHAT_PRESENCE_TTL": "3",
    }
    origin = {"Origin": base}
    url = f"ws://127.0.0.1:{port}/ws/rooms/load-0/"
    with running(args, ROOT / "demo", tmp_path, env) as server:
        await server.get(f"{base}/accounts/login/")
        alice, bob = await log_in(base, "alice"), await log_in(base, "bob")
        sockets: list[aiohttp.ClientWebSocketResponse] = []
        try:
            ws_bob = await bob.ws_connect(url, headers=origin)
            sockets.append(ws_bob)
            bob_worker = (await next_frame(ws_bob, "history"))["worker"]
            for _ in range(50):  # until alice's socket is served by the other worker
                ws_alice = await alice.ws_connect(url, headers=origin)
                sockets.append(ws_alice)
                if (await next_frame(ws_alice, "history"))["worker"] != bob_worker:
                    break
                await ws_alice.close()
            else:
                raise AssertionError("every socket landed on bob's worker")
            assert (await presence_until(ws_alice, ["alice", "bob"]))["users"] == ["alice", "bob"]
            os.kill(bob_worker, signal.SIGKILL)
            assert (await presence_until(ws_alice, ["alice"]))["users"] == ["alice"]
        finally:
            # Every socket, bob's dead one too: an unclosed one warns when collected, later.
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
            await alice.close()
            await bob.close()
