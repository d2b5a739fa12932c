"""The live chat: one websocket per open room page, authenticated by the Django session.

The protocol is JSON text frames; docs/tutorial.md ("The chat protocol") walks through it.

- The page connects to ``ws/rooms/<slug>/``, or ``ws/rooms/<slug>/?after=<seq>`` when it
  reconnects: ``seq`` is the highest message number up to which it has seen every message.
- The server sends ``{"type": "history", "messages": [...], "worker": pid}`` once: the last 50
  messages, or with ``after`` every message after it (at most 1,000), oldest first. Then
  ``{"type": "message", "message": {...}}`` for every message posted in the room (the sender's
  own included; a message can arrive twice, pages drop duplicates by ``id``), and ``{"type":
  "presence", "users": [...], "version": n}`` whenever someone joins or leaves (the full
  sorted list; keep the highest ``version``). Live frames may come before the history (the
  socket joins the group first), with messages the history does not hold: handle each frame
  when it comes.
- The page sends ``{"text": "...", "id": "<client id>"}``. The server stores it (once per user
  and client id, so a resend is harmless), publishes it to the room's group, and then answers
  ``{"type": "ack", "id": "<client id>", "message": {...}}``. **Acknowledged** means: stored in
  the database and accepted by the groups backend for every member of the room. A page keeps
  what is not acknowledged and sends it again after reconnecting.
- A refused frame gets ``{"type": "error", "error": "...", "id": ...}`` (the id if it had one).
  A room that does not exist closes the socket with 4404.
"""

from __future__ import annotations

import json
import os
from typing import Any, Final

from aiohttp import WSMsgType, web
from asgiref.sync import sync_to_async
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction

from aiodjango import async_view, get_user, groups, login_required

from . import presence
from .models import MAX_CLIENT_ID_LENGTH, MAX_MESSAGE_LENGTH, Message, Room

CLOSE_NO_SUCH_ROOM: Final = 4404


# --8<-- [start:handler]
@async_view("ws/rooms/<slug:room>/", name="chat-ws", websocket=True)
@login_required  # anonymous handshakes are refused with 403, before the upgrade
async def chat_ws(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Join a room: send its history, then store, publish and acknowledge each message."""
    user = await get_user(request)  # the session's user, already loaded by login_required
    room = await Room.objects.filter(slug=request.match_info["room"]).afirst()
    if room is None:
        await ws.close(code=CLOSE_NO_SUCH_ROOM, message=b"No such room.")
        return

    group = presence.group_of(room.slug)
    await groups.add(group, ws)  # before reading history: nothing falls between the two
    async with presence.present(room, user):  # publishes the room's list on join and leave
        after = request.query.get("after", "")
        if after.isdigit():
            history = await room.amessages_after(int(after))
        else:
            history = await room.arecent_messages()
        messages = [m.as_json() for m in history]
        # "worker" (the process id) only lets tests see which worker serves the socket
        await ws.send_json({"type": "history", "messages": messages, "worker": os.getpid()})
        async for frame in ws:
            text, client_id, error = _parse(frame.type, frame.data)
            if error:
                await ws.send_json({"type": "error", "error": error, "id": client_id})
                continue
            message = await sync_to_async(store)(room.pk, user, text, client_id)
            data = message.as_json()
            await groups.publish_json(group, {"type": "message", "message": data})
            if client_id is not None:  # stored and published: now it is acknowledged
                await ws.send_json({"type": "ack", "id": client_id, "message": data})


# --8<-- [end:handler]


# --8<-- [start:store]
def store(
    room_id: int, user: AbstractBaseUser | AnonymousUser, text: str, client_id: str | None
) -> Message:
    """Store a message once per (user, client id), numbered next in its room.

    The room's row is locked while the number is taken and the message inserted, so numbers
    have no gaps and commit in order: a page that saw every message up to N and reconnects
    with ``?after=N`` misses none. A resent client id returns the stored message unchanged.
    """
    try:
        with transaction.atomic():
            room = Room.objects.select_for_update().get(pk=room_id)
            if client_id is not None:
                stored = _stored(user, client_id)
                if stored is not None:
                    return stored
            room.last_seq += 1
            room.save(update_fields=["last_seq"])
            message = Message.objects.create(
                room=room, user=user, text=text, client_id=client_id or "", seq=room.last_seq
            )
    except IntegrityError:  # the same client id, sent to another room at the same moment
        stored = _stored(user, client_id) if client_id is not None else None
        if stored is None:
            raise
        return stored
    return Message.objects.select_related("user", "room").get(pk=message.pk)


def _stored(user: AbstractBaseUser | AnonymousUser, client_id: str) -> Message | None:
    found = Message.objects.select_related("user", "room").filter(user_id=user.pk)
    return found.filter(client_id=client_id).first()


# --8<-- [end:store]


def _parse(kind: WSMsgType, data: Any) -> tuple[str, str | None, str]:
    """A frame's text and client id, or an error saying why the frame is refused."""
    if kind is not WSMsgType.TEXT:
        return "", None, 'Send text frames holding JSON: {"text": "...", "id": "..."}.'
    try:
        decoded = json.loads(data)
    except ValueError:
        return "", None, 'Frames must be JSON: {"text": "...", "id": "..."}.'
    if not isinstance(decoded, dict):
        return "", None, 'Frames must be a JSON object: {"text": "...", "id": "..."}.'
    client_id = decoded.get("id")
    if client_id is not None and not (
        isinstance(client_id, str) and 0 < len(client_id) <= MAX_CLIENT_ID_LENGTH
    ):
        return "", None, f'"id" must be a string of 1 to {MAX_CLIENT_ID_LENGTH} characters.'
    text = decoded.get("text")
    if not isinstance(text, str) or not text.strip():
        return "", client_id, 'Frames need a non-empty "text" string.'
    if len(text) > MAX_MESSAGE_LENGTH:
        error = f"Messages are at most {MAX_MESSAGE_LENGTH} characters, got {len(text)}."
        return "", client_id, error
    return text.strip(), client_id, ""
