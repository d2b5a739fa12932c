"""The Django app config: registers aiodjango's system checks."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ("AiodjangoConfig",)


class AiodjangoConfig(AppConfig):
    """Adds the ``aiodjango.*`` system checks and the ``runserver`` override."""

    name = "aiodjango"
    verbose_name = "aiodjango"

    def ready(self) -> None:
        from . import checks

        checks.register_all()
