"""Test configuration: aiodjango's own fixtures (a real loopback server) for every test."""

from __future__ import annotations

pytest_plugins = ["aiodjango.testing"]
