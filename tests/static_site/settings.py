"""Settings of the static-file tests' project (see the package docstring)."""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODE = os.environ.get("STATIC_SITE_MODE", "aiodjango")

SECRET_KEY = "static-tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.static_site.urls"
WSGI_APPLICATION = "tests.static_site.wsgi.application"
INSTALLED_APPS = ["aiodjango", "django.contrib.staticfiles"]
MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"]
if MODE == "whitenoise":
    MIDDLEWARE.append("whitenoise.middleware.WhiteNoiseMiddleware")  # right after Security
else:
    AIODJANGO_SERVE_STATIC = True
TEMPLATES = [
    {"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [HERE / "templates"]}
]
DATABASES: dict[str, dict[str, str]] = {}
STATIC_URL = "/static/"
STATIC_ROOT = os.environ.get("STATIC_SITE_ROOT", str(HERE / "collected"))
STATICFILES_DIRS = [HERE / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
USE_TZ = True
