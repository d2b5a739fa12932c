"""aiodjango: async aiohttp views and websockets next to Django views, on one aiohttp server."""

from __future__ import annotations

from .application import get_aio_application as get_aio_application
from .auth import get_user as get_user
from .auth import login_required as login_required
from .registry import AsyncViewDef as AsyncViewDef
from .registry import AsyncViewRegistry as AsyncViewRegistry
from .registry import async_view as async_view
from .websocket import reverse_ws as reverse_ws

__version__ = "0.3.0"
"""The installed aiodjango release."""

__all__ = (
    "AsyncViewDef",
    "AsyncViewRegistry",
    "__version__",
    "async_view",
    "get_aio_application",
    "get_user",
    "login_required",
    "reverse_ws",
)
