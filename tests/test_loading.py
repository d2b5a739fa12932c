"""``aiodjango.loading``: one rule for what every entry point serves, one message when wrong."""

from __future__ import annotations

import pytest
from aiohttp import web
from django.core.exceptions import ImproperlyConfigured

from aiodjango.application import BRIDGE_KEY
from aiodjango.loading import ACCEPTED, load_application
from aiodjango.testing import serve
from tests.serving import aio_app

MODULE = "tests.serving.aio_app"


@pytest.mark.parametrize("sep", [":", "."])
def test_application_is_served_as_is(sep: str) -> None:
    """A web.Application is returned unchanged, in colon and dotted form."""
    assert load_application(f"{MODULE}{sep}APP") is aio_app.APP


def test_nested_attribute() -> None:
    """module:attribute.attribute follows the dots after the colon."""
    assert load_application(f"{MODULE}:Namespace.APP") is aio_app.APP


def test_sync_factory_is_called() -> None:
    """A function that takes no arguments is a factory: its Application is served."""
    app = load_application(f"{MODULE}.make_app")
    assert isinstance(app, web.Application)
    assert app is not aio_app.APP


async def test_async_factory_is_returned_for_the_serving_loop() -> None:
    """An async factory is not awaited at load time; awaiting the result gives its app."""
    factory = load_application(f"{MODULE}:async_factory")
    assert not isinstance(factory, web.Application)
    assert await factory() is aio_app.APP


@pytest.mark.parametrize("name", ["application", "wsgi_callable"])
def test_wsgi_application_is_wrapped(name: str) -> None:
    """Django's WSGIHandler and a bare (environ, start_response) callable get wrapped."""
    app = load_application(f"{MODULE}:{name}", wsgi_threads=3)
    assert isinstance(app, web.Application)
    assert app[BRIDGE_KEY].pool._max_workers == 3


async def test_wrapped_bare_wsgi_callable_serves() -> None:
    """The wrapped bare WSGI callable answers Django routes."""
    app = load_application(f"{MODULE}:wsgi_callable")
    assert isinstance(app, web.Application)
    async with serve(app) as client:
        response = await client.get("/django/")
        assert await response.text() == "plain wsgi"


def _refusal(target: str, what: str) -> str:
    return f"Cannot serve {target!r}: it is {what}; expected {ACCEPTED}."


@pytest.mark.parametrize(
    ("attribute", "what"),
    [
        ("NOT_AN_APP", "'a string'"),
        ("needs_arguments", "an async function that needs arguments"),
        ("returns_string", "a factory returning 'not an app'"),
    ],
)
def test_wrong_target_names_it_and_what_is_accepted(attribute: str, what: str) -> None:
    """A wrong target: ImproperlyConfigured with the target, what it was and what is accepted."""
    target = f"{MODULE}:{attribute}"
    with pytest.raises(ImproperlyConfigured) as raised:
        load_application(target)
    assert str(raised.value) == _refusal(target, what)


async def test_async_factory_returning_wrong_thing() -> None:
    """An async factory's result is checked when awaited, with the same message."""
    factory = load_application("tests.serving.project_targets:bad_async")
    assert not isinstance(factory, web.Application)
    with pytest.raises(ImproperlyConfigured) as raised:
        await factory()
    assert str(raised.value) == _refusal(
        "tests.serving.project_targets:bad_async", "a factory returning 42"
    )


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nothing", "expected module:attribute or module.attribute"),
        ("tests.serving.nowhere:app", "No module named 'tests.serving.nowhere'"),
        (f"{MODULE}:missing", f"module {MODULE!r} has no attribute 'missing'"),
    ],
)
def test_unimportable_targets(target: str, message: str) -> None:
    """Bad syntax, a missing module or a missing attribute each say so, naming the target."""
    with pytest.raises(ImproperlyConfigured, match=f"Cannot serve {target!r}") as raised:
        load_application(target)
    assert message in str(raised.value)
