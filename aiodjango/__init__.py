"""aiodjango: async aiohttp views and websockets next to Django views, on one aiohttp server."""

from __future__ import annotations

from .application import get_aio_application as get_aio_application
from .registry import AsyncViewDef as AsyncViewDef
from .registry import AsyncViewRegistry as AsyncViewRegistry
from .registry import async_view as async_view

__version__ = "0.3.0"

__all__ = (
    "AsyncViewDef",
    "AsyncViewRegistry",
    "__version__",
    "async_view",
    "get_aio_application",
)
