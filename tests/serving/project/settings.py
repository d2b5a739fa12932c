"""Settings of the serving tests' project: DEBUG, staticfiles, aiodjango listed first.

``SERVING_APPLICATION=1`` in the environment sets ``AIODJANGO_APPLICATION`` to ``project.wsgi.app``
(another value is taken as the target itself), and ``SERVING_<NAME>`` sets ``AIODJANGO_<NAME>``
for the numeric settings below. ``SERVING_GROUPS_PREFIX`` turns on the Redis groups backend with
that key prefix, plus auth and sessions in the SQLite file ``SERVING_DB`` (run ``migrate``).
"""

from __future__ import annotations

import os

SECRET_KEY = "serving-tests-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
INSTALLED_APPS = [
    "aiodjango",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "project",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
STATIC_URL = "/static/"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
_target = os.environ.get("SERVING_APPLICATION")
if _target:
    AIODJANGO_APPLICATION = "project.wsgi.app" if _target == "1" else _target
AIODJANGO_SHUTDOWN_TIMEOUT = float(os.environ.get("SERVING_SHUTDOWN_TIMEOUT", "30"))
AIODJANGO_KEEPALIVE_TIMEOUT = float(os.environ.get("SERVING_KEEPALIVE_TIMEOUT", "15"))
AIODJANGO_WSGI_THREADS = int(os.environ.get("SERVING_WSGI_THREADS", "16"))
AIODJANGO_WSGI_QUEUE_SIZE = int(os.environ.get("SERVING_WSGI_QUEUE_SIZE", "128"))
AIODJANGO_WSGI_QUEUE_TIMEOUT = float(os.environ.get("SERVING_WSGI_QUEUE_TIMEOUT", "10"))
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("SERVING_DATA_UPLOAD_MAX_MEMORY_SIZE", "2621440"))
AIODJANGO_WSGI_MAX_UPLOAD_SIZE = int(os.environ.get("SERVING_WSGI_MAX_UPLOAD_SIZE", str(2**26)))
if os.environ.get("SERVING_DEBUG") == "0":
    DEBUG = False
if os.environ.get("SERVING_BLOCKING_LOG"):  # a handler that blocks, as mail_admins can
    LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"slow": {"class": "project.views.BlockingHandler"}},
        "loggers": {
            name: {"handlers": ["slow"], "level": "INFO"}
            for name in ("django.request", "django.security", "aiohttp.access")
        },
    }
_groups_prefix = os.environ.get("SERVING_GROUPS_PREFIX")
if _groups_prefix:  # tests/test_multiworker.py: Redis groups, users and sessions in a shared file
    INSTALLED_APPS += ["django.contrib.auth", "django.contrib.sessions"]
    MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "project.views.worker_pid_header",
    ]
    DATABASES["default"]["NAME"] = os.environ["SERVING_DB"]
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
    LOGOUT_REDIRECT_URL = "/sync/"
    AIODJANGO_GROUPS = {
        "BACKEND": "aiodjango.backends.redis.RedisBackend",
        "URL": "redis://127.0.0.1:6379/0",
        "PREFIX": _groups_prefix,
        "QUEUE_SIZE": int(os.environ.get("SERVING_GROUPS_QUEUE_SIZE", "1000")),
    }
    AIODJANGO_WS_CLOSE_TIMEOUT = 1.0
