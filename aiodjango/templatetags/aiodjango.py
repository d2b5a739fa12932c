"""``{% load aiodjango %}``: the ``{% ws_url %}`` tag, the websocket twin of ``{% url %}``."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import ImproperlyConfigured

from ..websocket import reverse_ws

__all__ = ("register", "ws_url")

register = template.Library()


@register.simple_tag(takes_context=True)
def ws_url(context: template.Context, viewname: str, *args: Any, **kwargs: Any) -> str:
    """``{% ws_url "chat" room="lobby" %}``: the absolute ``ws://``/``wss://`` URL of a view.

    Built from the template's ``request`` (``reverse_ws``), so the scheme follows
    ``is_secure()`` and the host ``get_host()``. ``{% ws_url ... as var %}`` also works.
    """
    request = context.get("request")
    if request is None:
        raise ImproperlyConfigured(
            "{% ws_url %} needs the request in the template context: add "
            "'django.template.context_processors.request' to the template context "
            "processors, or pass request= when rendering."
        )
    return reverse_ws(request, viewname, args=args or None, kwargs=kwargs or None)
