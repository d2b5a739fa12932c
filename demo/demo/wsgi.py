"""The demo's two entry points: Django's WSGI app, and the aiohttp app serving everything.

``application`` is what ``WSGI_APPLICATION`` names; ``app`` is the combined server that
``runserver`` (through ``AIODJANGO_APPLICATION``), gunicorn and ``python -m aiodjango`` run.
"""

from __future__ import annotations

# --8<-- [start:wsgi]
import os

from django.core.wsgi import get_wsgi_application

from aiodjango import get_aio_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

application = get_wsgi_application()
app = get_aio_application(application)

from chat.presence import heartbeat  # noqa: E402  (needs Django set up)

app.cleanup_ctx.append(heartbeat)  # each worker refreshes its presence rows, drops stale ones
# --8<-- [end:wsgi]
