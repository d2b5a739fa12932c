"""Settings shared by every server: no database, Django's two cheapest common middlewares.

``BENCH_URLCONF`` picks the URLconf (the routing scenario swaps in 10 or 1,000 patterns).
Every WSGI thread pool in the comparison (aiodjango, bare aiohttp-wsgi, gunicorn gthread) has
``BENCH_THREADS`` threads, so the sync-view scenario compares like with like.
"""

from __future__ import annotations

import os

SECRET_KEY = "benchmarks-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = os.environ.get("BENCH_URLCONF", "benchmarks.project.urls")
INSTALLED_APPS = ["aiodjango"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
WSGI_APPLICATION = "benchmarks.project.wsgi.application"
ASGI_APPLICATION = "benchmarks.project.asgi.application"
BENCH_THREADS = int(os.environ.get("BENCH_THREADS", "4"))
AIODJANGO_WSGI_THREADS = BENCH_THREADS
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
