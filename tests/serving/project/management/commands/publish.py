"""``manage.py publish GROUP TEXT``: a management command publishing to a group (sync API)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from aiodjango import groups


class Command(BaseCommand):
    help = "Publish TEXT to GROUP through AIODJANGO_GROUPS."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("group")
        parser.add_argument("text")

    def handle(self, *args: Any, **options: Any) -> None:
        groups.publish_sync(options["group"], options["text"])
