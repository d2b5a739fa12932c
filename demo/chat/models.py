"""Rooms and the messages posted in them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from django.db.models.fields.related_descriptors import RelatedManager

MAX_MESSAGE_LENGTH = 1000
HISTORY_SIZE = 50


class Room(models.Model):
    """A chat room, addressed by its slug (``/rooms/<slug>/``)."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=200, blank=True)

    # Spelled out for type checkers that see the model without its app installed.
    objects: ClassVar[models.Manager[Room]] = models.Manager()
    if TYPE_CHECKING:
        messages: RelatedManager[Message]

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # --8<-- [start:recent]
    async def arecent_messages(self, limit: int = HISTORY_SIZE) -> list[Message]:
        """The last ``limit`` messages, oldest first, read with the async ORM."""
        newest = self.messages.select_related("user", "room").order_by("-created", "-id")
        return [message async for message in newest[:limit]][::-1]

    # --8<-- [end:recent]


# --8<-- [start:message]
class Message(models.Model):
    """One chat message; ``as_json()`` is what the websocket and the JSON API send."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    text = models.CharField(max_length=MAX_MESSAGE_LENGTH)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    objects: ClassVar[models.Manager[Message]] = models.Manager()

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.user}: {self.text[:40]}"

    def as_json(self) -> dict[str, Any]:
        """The message as a JSON-ready dict (``user`` must be loaded: use select_related)."""
        return {
            "id": self.pk,
            "room": self.room.slug,
            "user": self.user.get_username(),
            "text": self.text,
            "created": self.created.isoformat(),
        }


# --8<-- [end:message]
