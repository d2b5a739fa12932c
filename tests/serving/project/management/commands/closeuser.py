"""``manage.py closeuser USERNAME``: closes a user's websockets in every worker (4001)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from aiodjango.websocket import close_user_websockets


class Command(BaseCommand):
    help = "Close USERNAME's websockets in every worker, as deactivating a user would."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.get(username=options["username"])
        close_user_websockets(user)
