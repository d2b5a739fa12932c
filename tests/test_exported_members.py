"""The public API is exactly what aiodjango.__all__ says, and nothing slips in unnoticed."""

from __future__ import annotations

import types

import aiodjango

PUBLIC = (
    "AsyncViewDef",
    "AsyncViewRegistry",
    "__version__",
    "async_view",
    "get_aio_application",
    "get_user",
    "login_required",
    "reverse_ws",
)


def test_public_api() -> None:
    """__all__ is sorted, pinned, and every non-module public attribute is in it."""
    assert aiodjango.__all__ == PUBLIC
    exposed = {
        name
        for name, value in vars(aiodjango).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - {"annotations"}
    assert exposed == set(PUBLIC) - {"__version__"}
    for name in PUBLIC:
        assert getattr(aiodjango, name) is not None, name
