"""A loader target that only fails once awaited."""

from __future__ import annotations


async def bad_async() -> int:
    """An async factory returning the wrong thing."""
    return 42
