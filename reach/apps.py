from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReachConfig(AppConfig):
    """Who was told what, through which channel: one record per customer and notice."""

    name = "reach"
    verbose_name = _("客户触达")
