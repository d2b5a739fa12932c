"""The in-memory backend: groups within one process, no dependency (the default).

A publish is handed straight to the local fan-out, so every member in this process gets it in
publish order. Other processes (a second gunicorn worker, a management command) are not
reached: use the Redis backend for those.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

from . import GroupBackend, GroupsNotRunning, decode_control, dispatch_control

__all__ = ("MemoryBackend",)

logger: Final = logging.getLogger("aiodjango.groups")


class MemoryBackend(GroupBackend):
    """Groups of this process only; ``publish_sync`` hands over to the serving loop."""

    async def _publish(self, group: str, data: str | bytes) -> None:
        self.deliver(group, data)

    def _publish_sync(self, group: str, data: str | bytes) -> None:
        self._on_loop("publish_sync", self.deliver, group, data)

    async def _send_control(self, raw: str) -> None:
        dispatch_control(*decode_control(raw))

    def _send_control_sync(self, raw: str) -> None:
        if self.loop is None:
            # No server in this process means no sockets here to act on, and the memory
            # backend reaches no other process: there is nobody to tell.
            logger.debug("Control message with no running server, nobody to reach: %s", raw)
            return
        self._on_loop("send_control_sync", dispatch_control, *decode_control(raw))

    def _on_loop(self, what: str, func: Callable[..., object], *args: object) -> None:
        loop = self.loop
        if loop is None or loop.is_closed():
            raise GroupsNotRunning(
                f"{what}() found no aiodjango server running in this process, and the memory "
                "backend only reaches sockets of its own process. Set AIODJANGO_GROUPS to the "
                "Redis backend to publish from management commands, Celery or other workers."
            )
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            func(*args)
        else:
            loop.call_soon_threadsafe(func, *args)
