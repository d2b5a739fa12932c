"""Settings of the minimal Django project the test suite serves."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "tests.urls"
USE_TZ = True
INSTALLED_APPS = [
    "aiodjango",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "tests",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(BASE_DIR / "test.sqlite3"),
        # One test database per pytest process, so parallel runs never share one.
        "TEST": {"NAME": str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3")},
    }
}
# PostgreSQL on 127.0.0.1:5432 for tests/test_database.py; pytest-django creates its test
# database (the pid in its name) only when a collected test asks for this alias.
DATABASES["postgres"] = {
    "ENGINE": "django.db.backends.postgresql",
    "HOST": "127.0.0.1",
    "USER": "postgres",
    "NAME": "postgres",
    "TEST": {"NAME": f"test_aiodjango_{os.getpid()}"},
}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
AIODJANGO_SERVE_STATIC = False  # no static files to serve; W010 would say so (docs/checks.md)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/accounts/login/"
