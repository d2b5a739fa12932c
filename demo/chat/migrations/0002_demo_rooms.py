"""A data migration: the demo's three rooms, so a fresh database has somewhere to chat."""

from __future__ import annotations

from typing import Any

from django.db import migrations

ROOMS = (
    ("lobby", "Lobby", "Say hello."),
    ("django", "Django", "Sync views, templates and the ORM."),
    ("aiohttp", "aiohttp", "Async views and websockets."),
)


def add_rooms(apps: Any, schema_editor: Any) -> None:
    """Create the demo rooms that are missing."""
    room_model = apps.get_model("chat", "Room")
    for slug, name, description in ROOMS:
        room_model.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description}
        )


def remove_rooms(apps: Any, schema_editor: Any) -> None:
    """Delete the demo rooms (and their messages)."""
    apps.get_model("chat", "Room").objects.filter(slug__in=[r[0] for r in ROOMS]).delete()


class Migration(migrations.Migration):
    """Adds the demo rooms."""

    dependencies = [("chat", "0001_initial")]

    operations = [migrations.RunPython(add_rooms, remove_rooms)]
