"""The Django app config: registers aiodjango's system checks and its signal receivers."""

from __future__ import annotations

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out
from django.core.signals import setting_changed

from . import checks, groups
from .interop import forget_hosts, forget_prefix
from .tracking import CLOSE_USER_CONTROL, on_close_user, on_user_logged_out

__all__ = ("AiodjangoConfig",)


class AiodjangoConfig(AppConfig):
    """Adds the ``aiodjango.*`` system checks, the ``runserver`` override and two receivers.

    The receivers are connected here, once per process: ``setting_changed`` empties the host
    verdict and path prefix caches, ``user_logged_out`` closes the user's websockets (in every
    worker, through the groups control handler registered here).
    """

    name = "aiodjango"
    verbose_name = "aiodjango"

    def ready(self) -> None:
        checks.register_all()
        setting_changed.connect(forget_hosts, dispatch_uid="aiodjango.interop.forget_hosts")
        setting_changed.connect(forget_prefix, dispatch_uid="aiodjango.interop.forget_prefix")
        user_logged_out.connect(on_user_logged_out, dispatch_uid="aiodjango.websocket.logout")
        groups.on_control(CLOSE_USER_CONTROL)(on_close_user)  # logout seen by every worker
