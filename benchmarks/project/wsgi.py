"""Django's WSGI app, for aiodjango, bare aiohttp-wsgi and gunicorn."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.project.settings")
application = get_wsgi_application()
