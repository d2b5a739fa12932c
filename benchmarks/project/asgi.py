"""Django's ASGI app (for uvicorn), and the Channels app with the echo consumer (for daphne)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.project.settings")
application = get_asgi_application()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from .fanout import FanoutConsumer  # noqa: E402


class EchoConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Channels' idiomatic echo: every text frame sent back."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Echo the message."""
        await self.send(text_data=text_data)


channels_application = ProtocolTypeRouter(
    {
        "http": application,
        "websocket": URLRouter(
            [
                path("ws/echo/", EchoConsumer.as_asgi()),
                path("fanout/ws/", FanoutConsumer.as_asgi()),
            ]
        ),
    }
)
