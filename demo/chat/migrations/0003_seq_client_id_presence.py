"""Message numbers per room (``seq``), client ids for idempotent sends, and presence rows."""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def number_messages(apps: Any, schema_editor: Any) -> None:
    """Number each room's existing messages 1, 2, 3 … in the order they were posted."""
    room_model = apps.get_model("chat", "Room")
    message_model = apps.get_model("chat", "Message")
    for room in room_model.objects.all():
        seq = 0
        for message in message_model.objects.filter(room=room).order_by("created", "id"):
            seq += 1
            message.seq = seq
            message.save(update_fields=["seq"])
        room.last_seq = seq
        room.save(update_fields=["last_seq"])


class Migration(migrations.Migration):
    """Adds Room.last_seq/presence_version, Message.seq/client_id and RoomPresence."""

    dependencies = [
        ("chat", "0002_demo_rooms"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="room",
            name="last_seq",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="room",
            name="presence_version",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="message",
            name="seq",
            field=models.PositiveBigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="message",
            name="client_id",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.RunPython(number_messages, migrations.RunPython.noop),
        migrations.AlterModelOptions(name="message", options={"ordering": ["room", "seq"]}),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.UniqueConstraint(
                fields=("room", "seq"), name="chat_message_room_seq"
            ),
        ),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.UniqueConstraint(
                condition=~models.Q(client_id=""),
                fields=("user", "client_id"),
                name="chat_message_client_id",
            ),
        ),
        migrations.CreateModel(
            name="RoomPresence",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("socket_id", models.CharField(max_length=32, unique=True)),
                ("worker", models.CharField(db_index=True, max_length=100)),
                ("seen", models.DateTimeField(db_index=True)),
                (
                    "room",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="presence",
                        to="chat.room",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
        ),
    ]
