"""Project-wide ``AIODJANGO_*`` settings, read lazily so ``override_settings`` works.

Every property reads ``django.conf.settings`` at call time and validates the value; a bad value
raises ``ImproperlyConfigured`` naming the setting (the same problems show up as system checks).
"""

from __future__ import annotations

from typing import Final

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ("DISCOVERY_MODES", "conf")

DISCOVERY_MODES: Final = ("marked", "annotated", "all")


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
    def MAX_BODY_SIZE(self) -> int | None:
        """Largest request body an async view may read; defaults to DATA_UPLOAD_MAX_MEMORY_SIZE."""
        default = getattr(settings, "DATA_UPLOAD_MAX_MEMORY_SIZE", 2621440)
        return _int_setting("AIODJANGO_MAX_BODY_SIZE", default, minimum=0, allow_none=True)

    @property
    def WSGI_MAX_BODY_SIZE(self) -> int:
        """Largest body buffered for Django (413 above); Django's own limits still apply."""
        value = _int_setting("AIODJANGO_WSGI_MAX_BODY_SIZE", 2**30, minimum=0, allow_none=False)
        assert value is not None
        return value

    @property
    def SHUTDOWN_TIMEOUT(self) -> float:
        """Seconds in-flight requests get to finish on shutdown."""
        return _float_setting("AIODJANGO_SHUTDOWN_TIMEOUT", 30.0, minimum=0)

    @property
    def APPLICATION(self) -> str | None:
        """Dotted path of the combined app runserver serves; built from WSGI_APPLICATION if None."""
        value = getattr(settings, "AIODJANGO_APPLICATION", None)
        if value is not None and not isinstance(value, str):
            raise ImproperlyConfigured(
                f"AIODJANGO_APPLICATION must be a dotted path string or None, got {value!r}."
            )
        return value


conf: Final = Settings()
