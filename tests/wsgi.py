"""The 2015 seed's recipe: Django's WSGI app, then the combined aiohttp app named ``app``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from aiodjango import get_aio_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

# Build WSGI application; any WSGI middleware would be added here.
application = get_wsgi_application()

# Build aiohttp application.
app = get_aio_application(application)
