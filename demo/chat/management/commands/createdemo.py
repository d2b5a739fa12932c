"""``manage.py createdemo``: the two demo users, whose credentials the README prints."""

from __future__ import annotations

from typing import Any, Final

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

# --8<-- [start:users]
DEMO_USERS: Final = (("alice", "alice-demo-pw"), ("bob", "bob-demo-pw"))
# --8<-- [end:users]


class Command(BaseCommand):
    """Creates (or resets the passwords of) the demo users; safe to run again."""

    help = "Create the demo users alice and bob (or reset their passwords); print them."

    def handle(self, *args: Any, **options: Any) -> None:
        """Create what is missing and print how to log in."""
        users = get_user_model()
        for username, password in DEMO_USERS:
            user, _ = users.objects.get_or_create(username=username)
            user.set_password(password)
            user.save()
        self.stdout.write("Demo users (username / password):")
        for username, password in DEMO_USERS:
            self.stdout.write(f"  {username} / {password}")
