from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "CRM"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from core.aggregates import register_sqlite_percentile

        connection_created.connect(register_sqlite_percentile, dispatch_uid="core.sqlite_percentile")
