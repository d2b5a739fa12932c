"""Settings of the demo chat project.

It runs on SQLite (``demo/db.sqlite3``) with no configuration. ``DATABASE_URL`` points it at
another database: ``postgres://user:password@host:5432/name`` (needs ``pip install psycopg``)
or ``sqlite:////absolute/path.sqlite3``.

The chat's groups use the in-memory backend (one process: ``runserver``, ``python -m
aiodjango``, one gunicorn worker) unless ``REDIS_URL`` is set: then they go through Redis
(``aiodjango.backends.redis.RedisBackend``, ``pip install 'redis>=5'``), which several workers
and hosts need to reach each other's sockets. ``REDIS_PREFIX`` (default ``aiodjango-demo``)
starts its keys. ``CHAT_PRESENCE_TTL`` (seconds, default 30) bounds how long a crashed
worker's users stay in the "Online" list.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-secret-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1").lower() not in {"0", "false", "no", ""}
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

# --8<-- [start:apps]
INSTALLED_APPS = [
    "aiodjango",  # first, so its runserver replaces Django's (and staticfiles')
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "chat",
]
# --8<-- [end:apps]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "demo.urls"
# --8<-- [start:application]
WSGI_APPLICATION = "demo.wsgi.application"
AIODJANGO_APPLICATION = "demo.wsgi.app"
# --8<-- [end:application]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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


def database_from_url(url: str) -> dict[str, Any]:
    """Django's ``DATABASES["default"]`` for a ``postgres://`` or ``sqlite:///`` URL."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    if parts.scheme == "sqlite":
        # sqlite:////abs/path.sqlite3 -> /abs/path.sqlite3 ; sqlite:///:memory: -> :memory:
        name = unquote(parts.path[1:] if parts.path.startswith("//") else parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured(f"DATABASE_URL {url!r} names no SQLite file.")
        return _sqlite(name)
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parts.scheme!r} is not supported; use postgres:// or sqlite:///."
    )


def _sqlite(name: str) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": name,
        # The websocket handler and Django's threads write at the same time: wait for the lock
        # rather than fail, and let readers go on while one thread writes.
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        },
    }


_database_url = os.environ.get("DATABASE_URL", "")
DATABASES = {
    "default": database_from_url(_database_url)
    if _database_url
    else _sqlite(str(BASE_DIR / "db.sqlite3"))
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# python manage.py collectstatic fills it; DJANGO_STATIC_ROOT moves it (the tests do).
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
AIODJANGO_SERVE_STATIC = True  # with DEBUG off, aiodjango serves STATIC_ROOT (docs/deployment.md)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --8<-- [start:groups]
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:  # several workers or hosts: they reach each other's sockets through Redis
    AIODJANGO_GROUPS = {
        "BACKEND": "aiodjango.backends.redis.RedisBackend",
        "URL": REDIS_URL,
        "PREFIX": os.environ.get("REDIS_PREFIX", "aiodjango-demo"),
    }
else:  # one process: the default in-memory backend
    AIODJANGO_GROUPS = {"BACKEND": "aiodjango.backends.memory.MemoryBackend"}
CHAT_PRESENCE_TTL = float(os.environ.get("CHAT_PRESENCE_TTL", "30"))
# --8<-- [end:groups]

# --8<-- [start:login]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "room-list"
LOGOUT_REDIRECT_URL = "login"
# --8<-- [end:login]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "chat": {"handlers": ["console"], "level": "INFO"},
        "aiodjango": {"handlers": ["console"], "level": "INFO"},
    },
}
