from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroupsConfig(AppConfig):
    name = "groups"
    verbose_name = _("客户群")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from groups.aggregates import register_sqlite_median

        connection_created.connect(register_sqlite_median, dispatch_uid="groups.sqlite_median")
