"""Project-wide ``AIODJANGO_*`` settings, read lazily so ``override_settings`` works.

Every property reads ``django.conf.settings`` at call time and validates the value; a bad value
raises ``ImproperlyConfigured`` naming the setting (the same problems show up as system checks).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

__all__ = ("DEFAULT_GROUPS_BACKEND", "DISCOVERY_MODES", "conf", "groups_config")

DISCOVERY_MODES: Final = ("marked", "annotated", "all")
DEFAULT_GROUPS_BACKEND: Final = "aiodjango.backends.memory.MemoryBackend"
_SLOW_POLICIES: Final = ("close", "drop_oldest")


def _int_setting(name: str, default: int | None, *, minimum: int, allow_none: bool) -> int | None:
    value = getattr(settings, name, default)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "an integer" + (" or None" if allow_none else "")
        raise ImproperlyConfigured(f"{name} must be {kind} >= {minimum}, got {value!r}.")
    return value


def _float_setting(name: str, default: float, *, minimum: float) -> float:
    value = getattr(settings, name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ImproperlyConfigured(f"{name} must be a number >= {minimum}, got {value!r}.")
    return float(value)


class Settings:
    """One typed property per ``AIODJANGO_*`` setting; see docs/settings.md for each."""

    @property
    def DISCOVERY(self) -> str:
        """Which coroutine views in the URLconf aiohttp serves: marked, annotated or all."""
        value = getattr(settings, "AIODJANGO_DISCOVERY", "annotated")
        if value not in DISCOVERY_MODES:
            raise ImproperlyConfigured(
                f"AIODJANGO_DISCOVERY must be one of {DISCOVERY_MODES!r}, got {value!r}."
            )
        return str(value)

    @property
    def WSGI_THREADS(self) -> int:
        """Size of the thread pool that runs Django's WSGI app (its own, not the loop's)."""
        value = _int_setting("AIODJANGO_WSGI_THREADS", 16, minimum=1, allow_none=False)
        assert value is not None
        return value

    @property
    def DB_THREADS(self) -> int:
        """Most threads running async views' database work at once (docs/database.md)."""
        value = _int_setting("AIODJANGO_DB_THREADS", 16, minimum=1, allow_none=False)
        assert value is not None
        return value

    @property
    def MAX_BODY_SIZE(self) -> int | None:
        """Largest request body an async view may read; defaults to DATA_UPLOAD_MAX_MEMORY_SIZE."""
        default = getattr(settings, "DATA_UPLOAD_MAX_MEMORY_SIZE", 2621440)
        return _int_setting("AIODJANGO_MAX_BODY_SIZE", default, minimum=0, allow_none=True)

    @property
    def WSGI_MAX_BODY_SIZE(self) -> int:
        """Largest non-multipart body a Django route gets (413 above); DATA_UPLOAD_MAX_MEMORY_SIZE.

        Django refuses a larger ``request.body`` anyway; refusing it before it is read keeps a
        404 or a view that never reads the body from spooling it first.
        """
        django_limit = getattr(settings, "DATA_UPLOAD_MAX_MEMORY_SIZE", 2621440)
        default = self.WSGI_MAX_UPLOAD_SIZE if django_limit is None else django_limit
        value = _int_setting("AIODJANGO_WSGI_MAX_BODY_SIZE", default, minimum=0, allow_none=False)
        assert value is not None
        return value

    @property
    def WSGI_MAX_UPLOAD_SIZE(self) -> int:
        """Largest ``multipart/form-data`` body (file uploads) a Django route gets; 64 MiB."""
        value = _int_setting("AIODJANGO_WSGI_MAX_UPLOAD_SIZE", 2**26, minimum=0, allow_none=False)
        assert value is not None
        return value

    @property
    def WSGI_QUEUE_SIZE(self) -> int:
        """How many Django requests may wait for a busy pool's thread; more get 503 at once."""
        value = _int_setting("AIODJANGO_WSGI_QUEUE_SIZE", 128, minimum=0, allow_none=False)
        assert value is not None
        return value

    @property
    def WSGI_QUEUE_TIMEOUT(self) -> float:
        """Seconds a Django request waits for a thread before it gets 503 with Retry-After."""
        return _float_setting("AIODJANGO_WSGI_QUEUE_TIMEOUT", 10.0, minimum=0)

    @property
    def KEEPALIVE_TIMEOUT(self) -> float:
        """Seconds an idle connection stays open, and that a request's headers may take."""
        value = getattr(settings, "AIODJANGO_KEEPALIVE_TIMEOUT", 15.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ImproperlyConfigured(
                f"AIODJANGO_KEEPALIVE_TIMEOUT must be a number of seconds > 0, got {value!r}."
            )
        return float(value)

    @property
    def SHUTDOWN_TIMEOUT(self) -> float:
        """Seconds in-flight requests get to finish on shutdown."""
        return _float_setting("AIODJANGO_SHUTDOWN_TIMEOUT", 30.0, minimum=0)

    @property
    def APPLICATION(self) -> str | None:
        """What runserver serves (see aiodjango.loading); built from WSGI_APPLICATION if None."""
        value = getattr(settings, "AIODJANGO_APPLICATION", None)
        if value is not None and not isinstance(value, str):
            raise ImproperlyConfigured(
                "AIODJANGO_APPLICATION must be a dotted or module:attribute path string or None, "
                f"got {value!r}."
            )
        return value

    @property
    def WS_ALLOWED_ORIGINS(self) -> tuple[str, ...]:
        """Extra websocket origins (CSRF_TRUSTED_ORIGINS format); ``"*"`` turns the check off."""
        value = getattr(settings, "AIODJANGO_WS_ALLOWED_ORIGINS", ())
        if not isinstance(value, list | tuple) or not all(
            isinstance(origin, str) and (origin == "*" or "://" in origin) for origin in value
        ):
            raise ImproperlyConfigured(
                "AIODJANGO_WS_ALLOWED_ORIGINS must be a list of origins such as "
                f"'https://app.example.com' or '*', got {value!r}."
            )
        return tuple(value)

    @property
    def WS_MAX_MESSAGE_SIZE(self) -> int:
        """Largest websocket message accepted, in bytes (1009 close above it); 0 means no limit."""
        value = _int_setting("AIODJANGO_WS_MAX_MESSAGE_SIZE", 2**20, minimum=0, allow_none=False)
        assert value is not None
        return value

    @property
    def WS_HEARTBEAT(self) -> float | None:
        """Seconds between server pings; a peer not answering in half that is dropped. None: off."""
        value = getattr(settings, "AIODJANGO_WS_HEARTBEAT", 20.0)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ImproperlyConfigured(
                f"AIODJANGO_WS_HEARTBEAT must be a number of seconds > 0 or None, got {value!r}."
            )
        return float(value)

    @property
    def WS_SEND_TIMEOUT(self) -> float | None:
        """Seconds a websocket peer may leave the send buffer full before it is dropped."""
        if getattr(settings, "AIODJANGO_WS_SEND_TIMEOUT", 10.0) is None:
            return None
        return _float_setting("AIODJANGO_WS_SEND_TIMEOUT", 10.0, minimum=0.001)

    @property
    def WS_SEND_BUFFER(self) -> int | None:
        """Kernel send buffer of a websocket, in bytes (``SO_SNDBUF``); None: the kernel's."""
        return _int_setting("AIODJANGO_WS_SEND_BUFFER", 2**18, minimum=4096, allow_none=True)

    @property
    def WS_CLOSE_TIMEOUT(self) -> float:
        """Seconds a websocket close may take (flush, the peer's reply) before it is aborted."""
        return _float_setting("AIODJANGO_WS_CLOSE_TIMEOUT", 5.0, minimum=0.001)

    @property
    def GROUPS(self) -> dict[str, Any]:
        """The groups backend and its options (docs/groups.md), ``BACKEND`` as a class."""
        return groups_config(getattr(settings, "AIODJANGO_GROUPS", {}))

    @property
    def TOKEN_AUTHENTICATOR(self) -> Callable[..., Awaitable[Any]] | None:
        """The async ``(request) -> user | None`` that ``get_user()`` asks before the session."""
        value = getattr(settings, "AIODJANGO_TOKEN_AUTHENTICATOR", None)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ImproperlyConfigured(
                f"AIODJANGO_TOKEN_AUTHENTICATOR must be a dotted path or None, got {value!r}."
            )
        return _import_callable("AIODJANGO_TOKEN_AUTHENTICATOR", value)


def _groups_fail(key: str, expected: str, value: object) -> ImproperlyConfigured:
    return ImproperlyConfigured(f'AIODJANGO_GROUPS["{key}"] must be {expected}, got {value!r}.')


def groups_config(config: object) -> dict[str, Any]:
    """An ``AIODJANGO_GROUPS`` value checked key by key: its backend class and its options.

    Returns ``{"BACKEND": <class>, "QUEUE_SIZE": ..., ...}`` with only the keys given (and the
    class of the default backend). ``groups.build_backend()`` builds from it.
    """
    if not isinstance(config, Mapping):
        raise ImproperlyConfigured(
            "AIODJANGO_GROUPS must be a dict such as {'BACKEND': "
            f"'aiodjango.backends.redis.RedisBackend', 'URL': 'redis://...'}}, got {config!r}."
        )
    path = config.get("BACKEND", DEFAULT_GROUPS_BACKEND)
    if not isinstance(path, str):
        raise _groups_fail("BACKEND", "a dotted path string", path)
    try:
        cls = import_string(path)
    except ImportError as exc:
        hint = ' (pip install "django-aiohttp[redis]")' if "redis" in path else ""
        raise ImproperlyConfigured(
            f'AIODJANGO_GROUPS["BACKEND"] = {path!r} cannot be imported{hint}: {exc}'
        ) from exc
    options = getattr(cls, "OPTIONS", None)
    if not (isinstance(cls, type) and isinstance(options, frozenset)):
        raise _groups_fail("BACKEND", "the path of a GroupBackend subclass", cls)
    unknown = sorted(set(config) - {"BACKEND"} - options)
    if unknown:
        raise ImproperlyConfigured(
            f"AIODJANGO_GROUPS has keys {cls.__name__} does not take: {unknown!r}; it takes "
            f"{sorted(options | {'BACKEND'})!r}."
        )
    for key, value in config.items():
        if key in ("QUEUE_SIZE", "MAXLEN") and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise _groups_fail(key, "an integer >= 1", value)
        if key == "SLOW_POLICY" and value not in _SLOW_POLICIES:
            raise _groups_fail(key, f"one of {_SLOW_POLICIES!r}", value)
        if key == "URL" and not (
            isinstance(value, str) and value.startswith(("redis://", "rediss://", "unix://"))
        ):
            raise _groups_fail(key, "a redis://, rediss:// or unix:// URL", value)
        if key == "PREFIX" and not (isinstance(value, str) and value):
            raise _groups_fail(key, "a non-empty string", value)
    return {**config, "BACKEND": cls}


@functools.lru_cache(maxsize=16)
def _import_callable(name: str, path: str) -> Callable[..., Any]:
    try:
        found = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{name} = {path!r} cannot be imported: {exc}") from exc
    if not callable(found):
        raise ImproperlyConfigured(f"{name} = {path!r} is not callable: {found!r}.")
    return found  # type: ignore[no-any-return]


conf: Final = Settings()
