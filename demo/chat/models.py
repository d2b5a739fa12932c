"""Rooms, the messages posted in them, and who is in each room right now."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    from django.db.models.fields.related_descriptors import RelatedManager

MAX_MESSAGE_LENGTH = 1000
MAX_CLIENT_ID_LENGTH = 64
HISTORY_SIZE = 50
CATCH_UP_SIZE = 1000  # messages sent at most to a client that reconnects with ?after=


class Room(models.Model):
    """A chat room, addressed by its slug (``/rooms/<slug>/``).

    ``last_seq`` numbers the room's messages 1, 2, 3 … with no gap, and ``presence_version``
    numbers its presence lists: both are bumped with the room's row locked (``select_for_update``),
    so they follow commit order, in every worker.
    """

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=200, blank=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    presence_version = models.PositiveBigIntegerField(default=0)

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
        newest = self.messages.select_related("user", "room").order_by("-seq")
        return [message async for message in newest[:limit]][::-1]

    async def amessages_after(self, seq: int, limit: int = CATCH_UP_SIZE) -> list[Message]:
        """The messages after number ``seq`` (at most ``limit``), for a client catching up."""
        later = self.messages.select_related("user", "room").filter(seq__gt=seq).order_by("seq")
        return [message async for message in later[:limit]]

    # --8<-- [end:recent]


# --8<-- [start:message]
class Message(models.Model):
    """One chat message; ``as_json()`` is what the websocket and the JSON API send.

    ``seq`` is its number in the room (no gaps, in commit order); ``client_id`` is the id the
    sending page gave it, unique per user, so a message resent after a reconnect is stored once.
    """

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    text = models.CharField(max_length=MAX_MESSAGE_LENGTH)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    seq = models.PositiveBigIntegerField()
    client_id = models.CharField(max_length=MAX_CLIENT_ID_LENGTH, blank=True, default="")

    objects: ClassVar[models.Manager[Message]] = models.Manager()

    class Meta:
        ordering = ["room", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="chat_message_room_seq"),
            models.UniqueConstraint(
                fields=["user", "client_id"],
                condition=~models.Q(client_id=""),  # "": sent without an id
                name="chat_message_client_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.text[:40]}"

    def as_json(self) -> dict[str, Any]:
        """The message as a JSON-ready dict (``user`` must be loaded: use select_related)."""
        return {
            "id": self.pk,
            "seq": self.seq,
            "room": self.room.slug,
            "user": self.user.get_username(),
            "text": self.text,
            "created": self.created.isoformat(),
        }


# --8<-- [end:message]


class RoomPresence(models.Model):
    """One open chat socket: its user, room and worker; gone when the socket closes.

    A worker refreshes ``seen`` on its rows every few seconds; rows of a worker that died
    without cleaning up (SIGKILL, power loss) go stale and are deleted by any live worker.
    """

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="presence")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    socket_id = models.CharField(max_length=32, unique=True)
    worker = models.CharField(max_length=100, db_index=True)
    seen = models.DateTimeField(db_index=True)

    objects: ClassVar[models.Manager[RoomPresence]] = models.Manager()

    def __str__(self) -> str:
        return f"{self.user} in {self.room} ({self.worker})"
