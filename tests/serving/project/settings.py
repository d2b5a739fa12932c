"""Settings of the serving tests' project: DEBUG, staticfiles, aiodjango listed first.

``SERVING_APPLICATION=1`` in the environment sets ``AIODJANGO_APPLICATION`` to ``project.wsgi.app``,
and ``SERVING_SHUTDOWN_TIMEOUT`` sets ``AIODJANGO_SHUTDOWN_TIMEOUT``.
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
if os.environ.get("SERVING_APPLICATION"):
    AIODJANGO_APPLICATION = "project.wsgi.app"
AIODJANGO_SHUTDOWN_TIMEOUT = float(os.environ.get("SERVING_SHUTDOWN_TIMEOUT", "30"))
