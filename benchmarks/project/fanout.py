"""The fan-out scenario (issue 12): one message published to a group of 1,000 websockets.

Both sides speak the same protocol to ``benchmarks.clients fanout``:

* the websocket joins the group ``GROUP`` and then sends the text ``joined``;
* ``GET <publish path>?seq=N`` publishes the text ``N`` to the group, then answers 200;
* every socket in the group receives the text ``N``.

The Channels side (``FanoutConsumer`` + ``channels_publish``) runs on two daphnes with
channels_redis; the aiodjango side on gunicorn with two aiodjango workers and the Redis groups
backend (see below).
"""

from __future__ import annotations

import os

from aiohttp import web
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.http import HttpRequest, HttpResponse

from aiodjango import async_view

GROUP = "bench"
NOT_WRITTEN = "aiodjango side of the fan-out benchmark not written yet (aiodjango.groups)"


class FanoutConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Channels: join the group on connect, forward every group message to the socket."""

    async def connect(self) -> None:
        """Join, accept, say so."""
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()
        await self.send(text_data="joined")

    async def disconnect(self, code: int) -> None:
        """Leave the group."""
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def bench_message(self, event: dict[str, str]) -> None:
        """A group message: send its text."""
        await self.send(text_data=event["text"])


async def channels_publish(request: HttpRequest) -> HttpResponse:
    """Channels: ``group_send`` of ``?seq=N`` to every consumer in the group."""
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send(GROUP, {"type": "bench.message", "text": request.GET["seq"]})
    return HttpResponse(b"published")


def channels_ready(request: HttpRequest) -> HttpResponse:
    """Channels: the runner's start-up probe."""
    return HttpResponse(b"ready")


# --- aiodjango side, through aiodjango.groups --------------------------------------------------
# Same protocol as the Channels side above. The backend is AIODJANGO_GROUPS in settings.py
# (Redis, keys under BENCH_REDIS_PREFIX), so a publish in either gunicorn worker reaches every
# socket; get_aio_application() starts and stops it with the app.

try:
    from aiodjango import groups
except ImportError:  # an aiodjango without groups: the row is skipped
    groups = None  # type: ignore[assignment]


@async_view("fanout/ws/", name="fanout-ws", websocket=True)
async def fanout_socket(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Join GROUP, send "joined", wait until the client closes."""
    if groups is None:
        await ws.close(code=1011, message=NOT_WRITTEN.encode()[:120])
        return
    await groups.add(GROUP, ws)
    await ws.send_str("joined")
    async for _ in ws:
        pass


@async_view("fanout/publish/", name="fanout-publish")
async def fanout_publish(request: web.Request) -> web.Response:
    """Publish ``seq`` to GROUP."""
    if groups is None:
        return web.Response(status=501, text=NOT_WRITTEN)
    await groups.publish(GROUP, request.query["seq"])
    return web.Response(text="published")


@async_view("fanout/ready/", name="fanout-ready")
async def fanout_ready(request: web.Request) -> web.Response:
    """The runner's start-up probe: 501 when this aiodjango has no groups."""
    if groups is None:
        return web.Response(status=501, text=NOT_WRITTEN)
    return web.Response(text="ready")


async def aiodjango_app() -> web.Application:
    """gunicorn's target for the aiodjango side: the full app (it starts the groups backend)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.project.settings")
    django.setup()
    from aiodjango.application import get_aio_application

    return get_aio_application()
