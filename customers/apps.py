from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _reinstall_sync_triggers(sender, using, **kwargs) -> None:
    from django.conf import settings
    from django.db import connections

    from customers.sync_triggers import ensure_epoch, install_missing, refresh_zone

    install_missing(connections[using])
    refresh_zone(connections[using], settings.TIME_ZONE)
    ensure_epoch(connections[using])


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("客户档案")

    def ready(self) -> None:
        post_migrate.connect(_reinstall_sync_triggers, sender=self, dispatch_uid="customers-sync-triggers")
