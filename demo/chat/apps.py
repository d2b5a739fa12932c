"""The chat app's config."""

from __future__ import annotations

from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Rooms, messages, their pages, and the websocket that carries new messages."""

    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"
