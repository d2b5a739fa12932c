"""aiodjango's system checks, each seen in ``manage.py check`` output; IDs unique, documented."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from aiohttp import web
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from aiodjango.checks import check_registry, urlconf_endpoints
from aiodjango.registry import AsyncViewDef, AsyncViewRegistry
from tests.test_conf import BAD_VALUES

ROOT = Path(__file__).resolve().parent.parent


def _check(expected_id: str) -> str:
    """The output of ``manage.py check`` (errors raise, warnings print), which must name the ID."""
    out, err = StringIO(), StringIO()
    try:
        call_command("check", stdout=out, stderr=err)
    except SystemCheckError as exc:
        output = str(exc)
    else:
        output = out.getvalue() + err.getvalue()
    assert f"aiodjango.{expected_id}" in output, output
    return output


async def _handler(request: web.Request) -> web.Response:
    return web.Response(text="x")


def _registry_messages(pattern: str) -> list[str]:
    """What check_registry says of a registry holding one view with ``pattern``: "ID: msg"."""
    registry = AsyncViewRegistry()
    registry.add(AsyncViewDef(_handler, pattern, name="probe"))
    return [f"{m.id}: {m.msg}" for m in check_registry(None, registry=registry)]


def test_test_project_is_clean() -> None:
    """The test project itself raises no aiodjango check."""
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err)
    assert "aiodjango." not in out.getvalue() + err.getvalue()


@pytest.mark.parametrize("pattern", [r"^items/(?P<pk>\d+/$", "items/<nope:pk>/"])
def test_e001_pattern_does_not_compile(pattern: str) -> None:
    """E001: a registered pattern that is neither a valid regex nor a valid route."""
    [message] = _registry_messages(pattern)
    assert message.startswith("aiodjango.E001: ")
    assert "does not compile" in message
    assert repr(pattern) in message


@override_settings(ROOT_URLCONF="tests.serving.check_dup_urls")
def test_e002_duplicate_name() -> None:
    """E002: an async view's URL name is also another view's."""
    output = _check("E002")
    assert "URL name 'shared'" in output
    assert "tests.serving.check_urls.django_named" in output


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_e003_bad_setting(name: str) -> None:
    """E003: each AIODJANGO_* setting with a wrong value is reported by name."""
    with override_settings(**{f"AIODJANGO_{name}": BAD_VALUES[name]}):
        output = _check("E003")
    assert f"AIODJANGO_{name}" in output


@override_settings(AIODJANGO_GROUPS={"URL": "redis://127.0.0.1:6379/0"})
def test_e003_groups_key_the_backend_does_not_take() -> None:
    """E003: AIODJANGO_GROUPS is checked key by key at check time, not only when the app starts."""
    output = _check("E003")
    assert "MemoryBackend does not take: ['URL']" in output


@override_settings(ROOT_URLCONF="tests.serving.check_urls")
def test_w001_ambiguous_coroutine_view() -> None:
    """W001: an unmarked, unannotated coroutine view in the URLconf."""
    output = _check("W001")
    assert "tests.serving.check_urls.ambiguous" in output
    assert "Django serves it as a native async view" in output


@override_settings(
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.staticfiles",
        "aiodjango",
        "tests",
    ]
)
def test_w002_app_order() -> None:
    """W002: aiodjango listed after django.contrib.staticfiles."""
    output = _check("W002")
    assert "'aiodjango' is listed after 'django.contrib.staticfiles'" in output


def test_w004_registered_view_not_in_urlconf() -> None:
    """W004: a view registered with a pattern but never include()d into the URLconf."""
    [message] = _registry_messages("probe/<int:pk>/")
    assert message.startswith("aiodjango.W004: ")
    assert "is not in the URLconf" in message


def test_one_urlconf_walk_per_urlconf() -> None:
    """The URL checks share one memoised walk; another ROOT_URLCONF gets its own."""
    call_command("check", stdout=StringIO())
    walked = urlconf_endpoints()
    assert walked
    call_command("check", stdout=StringIO())
    assert urlconf_endpoints() is walked
    with override_settings(ROOT_URLCONF="tests.serving.check_urls"):
        other = urlconf_endpoints()
        assert other is not walked
        assert urlconf_endpoints() is other


def _catalogue(module: str = "checks") -> list[str]:
    """The IDs ``module`` (``"*"``: every aiodjango module) can raise, one per message site."""
    sources = sorted((ROOT / "aiodjango").glob(f"{module}.py"))
    return re.findall(r'id="aiodjango\.([EW]\d{3})"', "".join(p.read_text() for p in sources))


def test_ids_are_unique() -> None:
    """No check ID is used by two messages (django-cors-headers shipped a duplicate E013)."""
    ids = _catalogue()
    assert ids
    assert len(ids) == len(set(ids)), ids


def test_every_id_is_documented() -> None:
    """docs/checks.md lists exactly the IDs aiodjango's modules can raise."""
    documented = set(
        re.findall(r"aiodjango\.([EW]\d{3})", (ROOT / "docs" / "checks.md").read_text())
    )
    assert documented == set(_catalogue("*"))


def test_every_id_has_a_test() -> None:
    """Each ID checks.py can raise has a test above that finds it in ``manage.py check``."""
    tested = {
        name.split("_")[1].upper() for name in globals() if re.match(r"test_[ew]\d{3}_", name)
    }
    assert tested == set(_catalogue())
