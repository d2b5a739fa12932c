"""The fan-out scenario (issue 12): one message published to a group of 1,000 websockets.

Both sides speak the same protocol to ``benchmarks.clients fanout``:

* the websocket joins the group ``GROUP`` and then sends the text ``joined``;
* ``GET <publish path>?seq=N`` publishes the text ``N`` to the group, then answers 200;
* every socket in the group receives the text ``N``.

The Channels side (``FanoutConsumer`` + ``channels_publish``) runs on daphne with
channels_redis. The aiodjango side is a STUB until ``aiodjango.groups`` lands: see below.
"""

from __future__ import annotations

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


# --- aiodjango side: STUB, for the lead to fill in with aiodjango.groups ----------------------
# What the client expects (same as the Channels side above):
#   fanout_socket:  add ``ws`` to the group GROUP (through the Redis backend, so that a publish
#                   in either gunicorn worker reaches it), send the text "joined", then keep the
#                   socket open until the client closes it (membership ends with the socket).
#   fanout_publish: publish ``request.query["seq"]`` as text to GROUP, answer 200.
#   fanout_ready:   answer 200 once the above are written; 501 makes the runner skip the row.
# Settings available: BENCH_REDIS_PREFIX (unique per run) is exported as AIODJANGO_REDIS_PREFIX
# in benchmarks/project/settings.py; add the groups backend setting there when it exists.


@async_view("fanout/ws/", name="fanout-ws", websocket=True)
async def fanout_socket(request: web.Request, ws: web.WebSocketResponse) -> None:
    """STUB: join GROUP, send "joined", wait until closed."""
    await ws.close(code=1011, message=NOT_WRITTEN.encode()[:120])


@async_view("fanout/publish/", name="fanout-publish")
async def fanout_publish(request: web.Request) -> web.Response:
    """STUB: publish ``seq`` to GROUP."""
    return web.Response(status=501, text=NOT_WRITTEN)


@async_view("fanout/ready/", name="fanout-ready")
async def fanout_ready(request: web.Request) -> web.Response:
    """STUB: 501 until the two views above are written; then return 200."""
    return web.Response(status=501, text=NOT_WRITTEN)
