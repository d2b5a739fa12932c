"""The chat's pages (sync Django views) and its JSON API (async aiohttp views).

The page views are plain Django: they run through the WSGI bridge with every middleware. The
API views are coroutines whose ``request: web.Request`` annotation tells discovery that aiohttp
serves them, on the event loop, with the async ORM.
"""

from __future__ import annotations

from aiohttp import web
from django.contrib.auth.decorators import login_required
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from aiodjango import get_user
from aiodjango.routing import DjangoMatchInfo

from .models import HISTORY_SIZE, Message, Room


# --8<-- [start:pages]
@login_required
def room_list(request: HttpRequest) -> HttpResponse:
    """Every room, A to Z whatever the case, with a link to each (a sync Django view)."""
    rooms = Room.objects.order_by(Lower("name"), "slug")
    return render(request, "chat/room_list.html", {"rooms": rooms})


@login_required
def room_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A room's page; its script joins the room over the websocket."""
    room = get_object_or_404(Room, slug=slug)
    return render(request, "chat/room.html", {"room": room})


# --8<-- [end:pages]


# --8<-- [start:api]
async def recent_messages(request: web.Request) -> web.Response:
    """A room's recent messages as JSON: ``?limit=`` from 1 to 50, default 50."""
    user = await get_user(request)
    if not user.is_authenticated:
        return web.json_response({"error": "Log in to read messages."}, status=403)
    limit = request.query.get("limit", str(HISTORY_SIZE))
    if not limit.isdigit() or not 1 <= int(limit) <= HISTORY_SIZE:
        error = f"limit must be an integer from 1 to {HISTORY_SIZE}, got {limit!r}."
        return web.json_response({"error": error}, status=400)
    room = await Room.objects.filter(slug=request.match_info["room"]).afirst()
    if room is None:
        return web.json_response({"error": "No such room."}, status=404)
    messages = await room.arecent_messages(int(limit))
    return web.json_response({"room": room.slug, "messages": [m.as_json() for m in messages]})


# --8<-- [end:api]


# --8<-- [start:detail]
async def message_detail(request: web.Request) -> web.Response:
    """One message as JSON; ``<int:pk>`` arrives converted in ``match_info.kwargs``."""
    user = await get_user(request)
    if not user.is_authenticated:
        return web.json_response({"error": "Log in to read messages."}, status=403)
    match_info = request.match_info
    assert isinstance(match_info, DjangoMatchInfo)
    pk: int = match_info.kwargs["pk"]  # an int: Django's path converter already ran
    message = await Message.objects.select_related("user", "room").filter(pk=pk).afirst()
    if message is None:
        return web.json_response({"error": f"No message {pk}."}, status=404)
    return web.json_response(message.as_json())


# --8<-- [end:detail]
