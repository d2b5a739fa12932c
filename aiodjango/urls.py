"""``path("", include("aiodjango.urls"))`` mounts the default registry's views in the URLconf.

``urlpatterns`` is computed when Django first reads it (PEP 562), after the URLconf has imported
the modules whose ``@async_view`` decorators fill the registry.
"""

from __future__ import annotations

from typing import Any

from .registry import default_registry

__all__ = ("urlpatterns",)  # noqa: F822 (computed by __getattr__ below)


def __getattr__(name: str) -> Any:
    if name == "urlpatterns":
        return default_registry.urls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
