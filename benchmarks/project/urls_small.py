"""Routing scenario, reference: the async target last after 9 other patterns."""

from __future__ import annotations

from .routes import build

urlpatterns = build(10)
