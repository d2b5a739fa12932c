"""The live chat: one websocket per open room page, authenticated by the Django session.

The protocol is JSON text frames. The client sends ``{"text": "..."}``; the server sends
``{"type": "history", "messages": [...]}`` once on join, then ``{"type": "message", "message":
{...}}`` for every message posted in the room (the sender's own included), and ``{"type":
"error", "error": "..."}`` when a frame is refused. A room that does not exist closes the socket
with 4404.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Final

from aiohttp import WSMsgType, web

from aiodjango import async_view, get_user, login_required

from .models import MAX_MESSAGE_LENGTH, Message, Room

logger = logging.getLogger(__name__)

CLOSE_NO_SUCH_ROOM: Final = 4404

# Who is in which room, for this process: room slug -> open websockets. A deployment with
# several processes would broadcast through a shared backend (e.g. Redis) instead.
ROOMS: Final[dict[str, set[web.WebSocketResponse]]] = {}


# --8<-- [start:handler]
@async_view("ws/rooms/<slug:room>/", name="chat-ws", websocket=True)
@login_required  # anonymous handshakes are refused with 403, before the upgrade
async def chat_ws(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Join a room: send its history, then store and broadcast every message received."""
    user = await get_user(request)  # the session's user, already loaded by login_required
    room = await Room.objects.filter(slug=request.match_info["room"]).afirst()
    if room is None:
        await ws.close(code=CLOSE_NO_SUCH_ROOM, message=b"No such room.")
        return

    members = ROOMS.setdefault(room.slug, set())
    members.add(ws)  # before reading history, so no message falls between the two
    try:
        history = await room.arecent_messages()
        await ws.send_json({"type": "history", "messages": [m.as_json() for m in history]})
        async for frame in ws:
            text, error = _parse(frame.type, frame.data)
            if error:
                await ws.send_json({"type": "error", "error": error})
                continue
            message = await Message.objects.acreate(room=room, user=user, text=text)
            await broadcast(room.slug, {"type": "message", "message": message.as_json()})
    finally:
        members.discard(ws)


# --8<-- [end:handler]


# --8<-- [start:broadcast]
async def broadcast(slug: str, data: dict[str, Any]) -> None:
    """Send ``data`` to every websocket open in room ``slug``, skipping those closing."""
    payload = json.dumps(data)
    await asyncio.gather(*(_send(ws, payload) for ws in list(ROOMS.get(slug, ()))))


async def _send(ws: web.WebSocketResponse, payload: str) -> None:
    with contextlib.suppress(ConnectionError):  # the peer left while we were sending
        await ws.send_str(payload)


# --8<-- [end:broadcast]


def _parse(kind: WSMsgType, data: Any) -> tuple[str, str]:
    """The message text of a frame, or an error saying why the frame is refused."""
    if kind is not WSMsgType.TEXT:
        return "", 'Send text frames holding JSON: {"text": "..."}.'
    try:
        decoded = json.loads(data)
    except ValueError:
        return "", 'Frames must be JSON: {"text": "..."}.'
    text = decoded.get("text") if isinstance(decoded, dict) else None
    if not isinstance(text, str) or not text.strip():
        return "", 'Frames need a non-empty "text" string.'
    if len(text) > MAX_MESSAGE_LENGTH:
        return "", f"Messages are at most {MAX_MESSAGE_LENGTH} characters, got {len(text)}."
    return text.strip(), ""
