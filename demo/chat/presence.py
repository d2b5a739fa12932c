"""Who is online in each room, right in every worker: one database row per open chat socket.

A socket's row is created when it joins (``join``) and deleted when its handler ends
(``leave``); each change publishes the room's full list to the room's group as ``{"type":
"presence", "users": [...], "version": n}``. The list is read and ``Room.presence_version``
bumped with the room's row locked, so a higher version is always the fresher list, whatever
order the publishes arrive in; pages keep the highest. Every worker refreshes ``seen`` on its
own rows every ``CHAT_PRESENCE_TTL / 3`` seconds (``heartbeat``) and deletes rows older than
``CHAT_PRESENCE_TTL`` (a worker killed with SIGKILL cleaned nothing up), publishing the fresh
list of each room it cleaned: a ghost lasts at most about one TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Final

from aiohttp import web
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from aiodjango import groups

from .models import Room, RoomPresence

logger = logging.getLogger(__name__)

_TOKEN: Final = secrets.token_hex(3)


def worker() -> str:
    """This process's name in presence rows (per process: gunicorn may fork after import)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_TOKEN}"


def group_of(slug: str) -> str:
    """The groups name of a room: every socket open on the room is in it."""
    return f"chat.{slug}"


def ttl() -> float:
    """Seconds after which a row its worker stopped refreshing no longer counts."""
    return float(getattr(settings, "CHAT_PRESENCE_TTL", 30.0))


def _cutoff() -> datetime:
    return timezone.now() - timedelta(seconds=ttl())


def _change(
    room_id: int,
    *,
    join: tuple[int, str] | None = None,
    leave: str | None = None,
    purge: bool = False,
) -> dict[str, object] | None:
    """Apply one change under the room's row lock; the presence frame to publish, or None."""
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=room_id)
        changed, now = False, timezone.now()
        if join is not None:
            user_id, socket_id = join
            RoomPresence.objects.create(
                room=room, user_id=user_id, socket_id=socket_id, worker=worker(), seen=now
            )
            changed = True
        if leave is not None:
            changed |= RoomPresence.objects.filter(socket_id=leave).delete()[0] > 0
        if purge:
            changed |= RoomPresence.objects.filter(room=room, seen__lt=_cutoff()).delete()[0] > 0
        if not changed:
            return None
        users = RoomPresence.objects.filter(room=room, seen__gte=_cutoff())
        names = sorted(set(users.values_list("user__username", flat=True)))
        room.presence_version += 1
        room.save(update_fields=["presence_version"])
        return {"type": "presence", "users": names, "version": room.presence_version}


async def _publish(room: Room, frame: dict[str, object] | None) -> None:
    if frame is not None:
        await groups.publish_json(group_of(room.slug), frame)


async def join(room: Room, user: AbstractBaseUser | AnonymousUser, socket_id: str) -> None:
    """Count ``user`` in ``room`` (the socket must be in the room's group already)."""
    assert user.pk is not None
    await _publish(room, await sync_to_async(_change)(room.pk, join=(user.pk, socket_id)))


async def leave(room: Room, socket_id: str) -> None:
    """Stop counting the socket; a failure is logged (the row then expires after the TTL)."""
    try:
        await _publish(room, await sync_to_async(_change)(room.pk, leave=socket_id))
    except Exception:
        logger.exception("Could not remove socket %s from %s's presence", socket_id, room.slug)


_leaving: Final[set[asyncio.Task[None]]] = set()


@contextlib.asynccontextmanager
async def present(room: Room, user: AbstractBaseUser | AnonymousUser) -> AsyncIterator[None]:
    """Count ``user`` in ``room`` while the block runs (the socket must be in the room's group).

    The join and the leave run as tasks of their own, the leave after the join: aiohttp cancels
    a handler whose client left, and a leave cut short would leave a row behind (until its
    worker stops refreshing it) and no fresh list published.
    """
    socket_id = uuid.uuid4().hex
    joined = asyncio.ensure_future(join(room, user, socket_id))
    try:
        await asyncio.shield(joined)
        yield
    finally:
        done = asyncio.ensure_future(_leave_after(joined, room, socket_id))
        _leaving.add(done)
        done.add_done_callback(_leaving.discard)
        await asyncio.shield(done)


async def _leave_after(joined: asyncio.Future[None], room: Room, socket_id: str) -> None:
    with contextlib.suppress(Exception):  # a failed join left nothing to remove
        await joined
    await leave(room, socket_id)


def _refresh_and_find_stale() -> list[int]:
    RoomPresence.objects.filter(worker=worker()).update(seen=timezone.now())
    stale = RoomPresence.objects.filter(seen__lt=_cutoff()).values_list("room_id", flat=True)
    return sorted(set(stale))


async def beat() -> None:
    """One heartbeat: refresh this worker's rows, delete stale ones, publish what changed."""
    for room_id in await sync_to_async(_refresh_and_find_stale)():
        frame = await sync_to_async(_change)(room_id, purge=True)
        if frame is not None:
            room = await Room.objects.aget(pk=room_id)
            logger.info("Removed stale presence in %s", room.slug)
            await _publish(room, frame)


async def heartbeat(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context (``app.cleanup_ctx``) running ``beat()`` every TTL / 3 seconds."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(ttl() / 3)
            try:
                await beat()
            except Exception:
                logger.exception("Presence heartbeat failed")

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
