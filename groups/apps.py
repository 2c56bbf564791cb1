from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroupsConfig(AppConfig):
    name = "groups"
    verbose_name = _("客户群")

    def ready(self) -> None:
        # WeCom's group and customer events are handled here (groups/wecom_events.py).
        from groups import wecom_events  # noqa: F401
