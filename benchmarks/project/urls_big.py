"""Routing scenario: the async target last after 999 other patterns."""

from __future__ import annotations

from .routes import build

urlpatterns = build(1000)
