"""The public API is exactly what aiodjango.__all__ says."""

from __future__ import annotations

import aiodjango


def test_public_api() -> None:
    """__all__ is sorted, complete, and every name in it exists."""
    public = {name for name in dir(aiodjango) if not name.startswith("_")} - {
        "application",
        "conf",
        "discovery",
        "dispatch",
        "registry",
        "routing",
        "wsgi",
        "websocket",
        "auth",
        "apps",
        "checks",
        "testing",
        "urls",
        "server",
        "workers",
        "templatetags",
        "management",
        "annotations",
    }
    assert sorted(aiodjango.__all__) == list(aiodjango.__all__)
    assert public <= set(aiodjango.__all__)
    for name in aiodjango.__all__:
        assert hasattr(aiodjango, name), name
