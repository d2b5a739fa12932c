"""Django's WSGI ``application`` and the combined aiohttp ``app`` that every server runs."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from aiodjango import get_aio_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.static_site.settings")

application = get_wsgi_application()
app = get_aio_application(application)
