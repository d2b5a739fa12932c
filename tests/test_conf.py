"""The ``AIODJANGO_*`` settings: defaults, read lazily, validated, each one documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from aiodjango.backends.memory import MemoryBackend
from aiodjango.backends.redis import RedisBackend
from aiodjango.checks import setting_names
from aiodjango.conf import conf

DOCS = Path(__file__).resolve().parent.parent / "docs" / "settings.md"

DEFAULTS: dict[str, object] = {
    "APPLICATION": None,
    "DB_THREADS": 16,
    "DISCOVERY": "annotated",
    "GROUPS": {"BACKEND": MemoryBackend},
    "MAX_BODY_SIZE": 2621440,
    "SHUTDOWN_TIMEOUT": 30.0,
    "TOKEN_AUTHENTICATOR": None,
    "KEEPALIVE_TIMEOUT": 15.0,
    "WSGI_MAX_BODY_SIZE": 2621440,
    "WSGI_MAX_UPLOAD_SIZE": 2**26,
    "WSGI_QUEUE_SIZE": 128,
    "WSGI_QUEUE_TIMEOUT": 10.0,
    "WSGI_THREADS": 16,
    "WS_ALLOWED_ORIGINS": (),
    "WS_CLOSE_TIMEOUT": 5.0,
    "WS_HEARTBEAT": 20.0,
    "WS_MAX_MESSAGE_SIZE": 2**20,
    "WS_SEND_BUFFER": 2**18,
    "WS_SEND_TIMEOUT": 10.0,
}

BAD_VALUES: dict[str, object] = {
    "APPLICATION": 42,
    "DB_THREADS": 0,
    "DISCOVERY": "everything",
    "GROUPS": "redis://127.0.0.1:6379/0",  # a URL where the dict goes
    "MAX_BODY_SIZE": "big",
    "SHUTDOWN_TIMEOUT": -1,
    "TOKEN_AUTHENTICATOR": 42,
    "KEEPALIVE_TIMEOUT": 0,
    "WSGI_MAX_BODY_SIZE": None,
    "WSGI_MAX_UPLOAD_SIZE": -1,
    "WSGI_QUEUE_SIZE": 1.5,
    "WSGI_QUEUE_TIMEOUT": "soon",
    "WSGI_THREADS": 0,
    "WS_ALLOWED_ORIGINS": "example.com",
    "WS_CLOSE_TIMEOUT": 0,
    "WS_HEARTBEAT": 0,
    "WS_MAX_MESSAGE_SIZE": -1,
    "WS_SEND_BUFFER": 1024,
    "WS_SEND_TIMEOUT": "10",
}


def test_tables_cover_every_setting() -> None:
    """Every setting conf knows has a default and a bad value here (new ones must add theirs)."""
    assert sorted(DEFAULTS) == setting_names()
    assert sorted(BAD_VALUES) == setting_names()


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_default(name: str) -> None:
    """Unset, each setting has its documented default."""
    assert getattr(conf, name) == DEFAULTS[name]


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_bad_value_raises_naming_the_setting(name: str) -> None:
    """A wrong value raises ImproperlyConfigured quoting the setting and the value."""
    value = BAD_VALUES[name]
    with (
        override_settings(**{f"AIODJANGO_{name}": value}),
        pytest.raises(ImproperlyConfigured, match=f"AIODJANGO_{name}.*{re.escape(repr(value))}"),
    ):
        getattr(conf, name)


def test_read_lazily() -> None:
    """override_settings is seen at once and undone after, with no cache to clear."""
    with override_settings(AIODJANGO_WSGI_THREADS=3, AIODJANGO_SHUTDOWN_TIMEOUT=2):
        assert conf.WSGI_THREADS == 3
        assert conf.SHUTDOWN_TIMEOUT == 2.0
        assert isinstance(conf.SHUTDOWN_TIMEOUT, float)
    assert conf.WSGI_THREADS == 16
    assert conf.SHUTDOWN_TIMEOUT == 30.0


def test_max_body_size_follows_django() -> None:
    """AIODJANGO_MAX_BODY_SIZE defaults to DATA_UPLOAD_MAX_MEMORY_SIZE, and None turns it off."""
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1234):
        assert conf.MAX_BODY_SIZE == 1234
    with override_settings(AIODJANGO_MAX_BODY_SIZE=None):
        assert conf.MAX_BODY_SIZE is None


def test_wsgi_body_size_follows_django() -> None:
    """AIODJANGO_WSGI_MAX_BODY_SIZE defaults to DATA_UPLOAD_MAX_MEMORY_SIZE; None there means
    the upload limit applies to every body."""
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1234):
        assert conf.WSGI_MAX_BODY_SIZE == 1234
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=None, AIODJANGO_WSGI_MAX_UPLOAD_SIZE=99):
        assert conf.WSGI_MAX_BODY_SIZE == 99


@pytest.mark.parametrize(
    ("name", "value"),
    [("WSGI_THREADS", True), ("SHUTDOWN_TIMEOUT", False), ("WSGI_MAX_BODY_SIZE", 1.5)],
)
def test_wrong_types_rejected(name: str, value: object) -> None:
    """Booleans are not numbers here, and sizes are whole bytes."""
    with (
        override_settings(**{f"AIODJANGO_{name}": value}),
        pytest.raises(ImproperlyConfigured),
    ):
        getattr(conf, name)


def test_shutdown_timeout_zero_is_allowed() -> None:
    """0 means: cancel in-flight requests at once."""
    with override_settings(AIODJANGO_SHUTDOWN_TIMEOUT=0):
        assert conf.SHUTDOWN_TIMEOUT == 0.0


@pytest.mark.parametrize("name", setting_names())
def test_documented(name: str) -> None:
    """docs/settings.md has a table row and a section for every setting."""
    text = DOCS.read_text()
    assert f"| `AIODJANGO_{name}` |" in text
    assert f"## `AIODJANGO_{name}`" in text


def test_groups_backend_and_options() -> None:
    """AIODJANGO_GROUPS gives the backend class and the options as set, key by key checked."""
    config = {"BACKEND": "aiodjango.backends.redis.RedisBackend", "PREFIX": "p", "MAXLEN": 5}
    with override_settings(AIODJANGO_GROUPS=config):
        checked = conf.GROUPS
    assert checked == {"BACKEND": RedisBackend, "PREFIX": "p", "MAXLEN": 5}
    with (
        override_settings(AIODJANGO_GROUPS={"QUEUE_SIZE": 0}),
        pytest.raises(ImproperlyConfigured, match=r'AIODJANGO_GROUPS\["QUEUE_SIZE"\].* 0\.'),
    ):
        conf.GROUPS  # noqa: B018 - the property validates
