# mypy: disable-error-code="arg-type"
"""i18n_patterns without a prefix for the default language."""

from __future__ import annotations

from django.conf.urls.i18n import i18n_patterns
from django.urls import path

from .urls_i18n import language

urlpatterns = i18n_patterns(path("lang/", language), prefix_default_language=False)
