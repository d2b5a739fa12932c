"""Settings shared by every server: no database, Django's two cheapest common middlewares.

``BENCH_URLCONF`` picks the URLconf (the routing scenario swaps in 10 or 1,000 patterns).
``BENCH_DB`` adds PostgreSQL, the same for every server: ``pool`` (Django's psycopg pool) or
``no-pool`` (a new connection per request, ``CONN_MAX_AGE = 0``). ``BENCH_FANOUT`` adds the
channels_redis layer (keys under ``BENCH_REDIS_PREFIX``, unique per run).
Every WSGI thread pool in the comparison (aiodjango, bare aiohttp-wsgi, gunicorn gthread) has
``BENCH_THREADS`` threads, so the sync-view scenario compares like with like.
"""

from __future__ import annotations

import os

SECRET_KEY = "benchmarks-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = os.environ.get("BENCH_URLCONF", "benchmarks.project.urls")
INSTALLED_APPS = ["aiodjango", "benchmarks.project"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
DATABASES: dict[str, dict[str, object]] = {}
if os.environ.get("BENCH_DB"):
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("BENCH_DB_NAME", "bench_aiodjango"),
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "CONN_MAX_AGE": 0,
        # At most 16 connections per server process: 16 / 20 ms = 800 req/s for pg_sleep.
        "OPTIONS": (
            {"pool": {"min_size": 2, "max_size": 16, "timeout": 10}}
            if os.environ["BENCH_DB"] == "pool"
            else {}
        ),
    }
if os.environ.get("BENCH_FANOUT"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": ["redis://127.0.0.1:6379/0"],
                "prefix": os.environ.get("BENCH_REDIS_PREFIX", f"aiodjango-bench-{os.getpid()}"),
                "capacity": 1000,
            },
        }
    }
    AIODJANGO_GROUPS = {
        "BACKEND": "aiodjango.backends.redis.RedisBackend",
        "URL": "redis://127.0.0.1:6379/0",
        "PREFIX": os.environ.get("BENCH_REDIS_PREFIX", f"aiodjango-bench-{os.getpid()}"),
    }
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
