"""``manage.py`` of the static-file tests' project (run with the repository on sys.path)."""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.static_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
