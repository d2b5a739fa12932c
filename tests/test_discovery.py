"""The discovery rule: which coroutine views in the URLconf aiohttp serves."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from aiodjango import get_aio_application
from aiodjango.testing import serve

URLCONF = "tests.urls_discovery"


async def _served(settings: Any, mode: str | None, autodiscover: bool = True) -> dict[str, str]:
    if mode is not None:
        settings.AIODJANGO_DISCOVERY = mode
    settings.ROOT_URLCONF = URLCONF
    results = {}
    async with serve(get_aio_application(autodiscover=autodiscover)) as client:
        for name in ("marked", "annotated", "returns", "native"):
            response = await client.get(f"/{name}/")
            results[name] = await response.text()
    return results


async def test_default_rule_is_annotated(settings: Any) -> None:
    """By default marked and annotated views go to aiohttp, native ones stay Django's."""
    assert await _served(settings, None) == {
        "marked": "marked",
        "annotated": "annotated",
        "returns": "returns",
        "native": "native WSGIRequest",
    }


async def test_marked_rule(settings: Any) -> None:
    """'marked' serves only @async_view views with aiohttp; the others fail in Django."""
    served = await _served(settings, "marked")
    assert served["marked"] == "marked"
    assert served["native"] == "native WSGIRequest"
    assert "Server Error" in served["annotated"]


async def test_all_rule_is_the_2015_behaviour(settings: Any) -> None:
    """'all' hands every coroutine view to aiohttp, native ones included."""
    served = await _served(settings, "all")
    assert served["annotated"] == "annotated"
    assert "Server Error" in served["native"]


async def test_autodiscover_off(settings: Any) -> None:
    """get_aio_application(autodiscover=False) only serves marked views with aiohttp."""
    served = await _served(settings, None, autodiscover=False)
    assert served["marked"] == "marked"
    assert "Server Error" in served["annotated"]


def test_bad_mode_is_refused(settings: Any) -> None:
    """An unknown AIODJANGO_DISCOVERY raises ImproperlyConfigured naming it."""
    from django.core.exceptions import ImproperlyConfigured

    settings.AIODJANGO_DISCOVERY = "some"
    with pytest.raises(ImproperlyConfigured, match="AIODJANGO_DISCOVERY.*'some'"):
        get_aio_application()


def test_ambiguous_view_is_reported(settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """manage.py check warns (aiodjango.W001) about the unmarked, unannotated coroutine view."""
    settings.ROOT_URLCONF = URLCONF
    call_command("check")
    err = capsys.readouterr().err
    assert "aiodjango.W001" in err
    assert "tests.urls_discovery.ambiguous" in err
    assert err.count("aiodjango.W001") == 1
