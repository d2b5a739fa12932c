"""Groups: publish to every websocket in a named group, in this process or in every worker.

``await groups.add("room-1", ws)`` puts a socket in a group (it leaves by itself when its handler
finishes), ``await groups.publish("room-1", "hi")`` sends a text frame to every member, and
``groups.publish_sync(...)`` does the same from sync code in any thread, with no event loop.
The backend comes from the ``AIODJANGO_GROUPS`` setting: memory (one process, the default) or
Redis (every worker on every host). ``get_aio_application()`` starts and stops it with the
application (``setup_groups``). docs/groups.md states the delivery semantics.
"""

from __future__ import annotations

import threading
from typing import Final

from aiohttp import web
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .backends import (
    CLOSE_TRY_AGAIN_LATER,
    ControlHandler,
    GroupBackend,
    GroupsNotRunning,
    GroupStats,
    on_control,
)
from .conf import groups_config

__all__ = (
    "CLOSE_TRY_AGAIN_LATER",
    "GROUPS_KEY",
    "ControlHandler",
    "GroupBackend",
    "GroupStats",
    "GroupsNotRunning",
    "add",
    "build_backend",
    "discard",
    "get_backend",
    "members",
    "on_control",
    "publish",
    "publish_json",
    "publish_json_sync",
    "publish_sync",
    "send_control",
    "send_control_sync",
    "setup_groups",
    "stats",
)

GROUPS_KEY: Final = web.AppKey("aiodjango_groups", GroupBackend)
_lock: Final = threading.Lock()
_current: list[tuple[object, GroupBackend]] = []  # (the setting it was built from, backend)


def build_backend(config: object) -> GroupBackend:
    """A new, unstarted backend for an ``AIODJANGO_GROUPS`` value, validated key by key."""
    checked = groups_config(config)  # conf.GROUPS's rules; the E003 check runs them too
    cls: type = checked.pop("BACKEND")
    if not issubclass(cls, GroupBackend):
        raise ImproperlyConfigured(
            f'AIODJANGO_GROUPS["BACKEND"] must be the path of a GroupBackend subclass, got {cls!r}.'
        )
    return cls(**{key.lower(): value for key, value in checked.items()})


def get_backend() -> GroupBackend:
    """This process's backend, built from ``AIODJANGO_GROUPS`` when first needed.

    A changed setting (e.g. ``override_settings``) builds a new one, unless the current one is
    running: a running backend serves until its application stops.
    """
    # The raw setting, compared with the one the backend was built from: publish() calls this
    # every time, and conf.GROUPS would import and validate again. A new value is validated.
    config = getattr(settings, "AIODJANGO_GROUPS", {})
    with _lock:
        if _current:
            built_from, backend = _current[0]
            if backend.loop is not None or built_from == config:
                return backend
        backend = build_backend(config)
        _current[:] = [(dict(config), backend)]
        return backend


def setup_groups(app: web.Application, backend: GroupBackend | None = None) -> GroupBackend:
    """Start ``backend`` (default: ``get_backend()``) with ``app`` and stop it in its cleanup.

    ``get_aio_application()`` calls it; call it yourself for a hand-built aiohttp application.
    """
    backend = get_backend() if backend is None else backend
    app[GROUPS_KEY] = backend

    async def start(app: web.Application) -> None:
        await app[GROUPS_KEY].start()

    async def stop(app: web.Application) -> None:
        await app[GROUPS_KEY].stop()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)  # after on_shutdown closed the sockets with 1001
    return backend


async def add(group: str, ws: web.WebSocketResponse) -> None:
    """Put ``ws`` in ``group``: it gets every message published after this returns.

    Membership ends with ``discard()`` or by itself when the handler that called ``add()``
    finishes (or a send finds the socket closed), so a forgotten ``discard`` leaks nothing.
    """
    await _running("add").add(group, ws)


async def discard(group: str, ws: web.WebSocketResponse) -> None:
    """Take ``ws`` out of ``group``; nothing happens if it is not in it."""
    await get_backend().discard(group, ws)


async def publish(group: str, data: str | bytes) -> None:
    """Send ``data`` to every member of ``group``: a str as a text frame, bytes as binary.

    Returns once the backend has the message (Redis: after one ``XADD``), never waiting for a
    socket. Use ``publish_json`` for any other value.
    """
    await get_backend().publish(group, data)


async def publish_json(group: str, obj: object) -> None:
    """Send ``json.dumps(obj)`` as a text frame to every member of ``group`` (encoded once)."""
    await get_backend().publish_json(group, obj)


def publish_sync(group: str, data: str | bytes) -> None:
    """``publish()`` for sync code in any thread: Django views, commands, signals, Celery.

    It needs no event loop (Redis: a sync ``XADD``). With the memory backend it hands the
    message to this process's server and raises ``GroupsNotRunning`` when none is running.
    """
    get_backend().publish_sync(group, data)


def publish_json_sync(group: str, obj: object) -> None:
    """``publish_json()`` for sync code in any thread."""
    get_backend().publish_json_sync(group, obj)


async def members(group: str) -> int:
    """The number of sockets in ``group`` (Redis: in every live process)."""
    return await _running("members").members(group)


def stats() -> GroupStats:
    """This process's counters: delivered, dropped, closed_slow, reconnects, gaps, ..."""
    return get_backend().stats()


async def send_control(name: str, payload: dict[str, object]) -> None:
    """Run the ``@on_control(name)`` handlers with the JSON ``payload`` in every process."""
    await _running("send_control").send_control(name, payload)


def send_control_sync(name: str, payload: dict[str, object]) -> None:
    """``send_control()`` for sync code in any thread (memory backend: a no-op with no server)."""
    get_backend().send_control_sync(name, payload)


def _running(what: str) -> GroupBackend:
    backend = get_backend()
    if backend.loop is None:
        raise GroupsNotRunning(
            f"groups.{what}() needs the groups backend started: get_aio_application() does "
            "it when the server starts; for a hand-built aiohttp app call setup_groups(app)."
        )
    return backend
