from django.apps import AppConfig


def use_sqlite_variable_limit(sender, connection, **kwargs) -> None:
    """Let bulk writes on SQLite use the library's real bound-variable limit.

    Django 5.2 assumes SQLite's historic 999 and splits a bulk INSERT into
    batches of 999 // columns rows, so the outbox (25 columns) took a query per
    39 rows; SQLite 3.32+ allows 32,766 or more, and Django 6.0 reads the limit
    the same way.
    """
    if connection.vendor != "sqlite":
        return
    import sqlite3

    connection.features.max_query_params = connection.connection.getlimit(
        sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER
    )


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "CRM"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from core import runs  # noqa: F401  (connects the run records to Celery's signals)
        from core.aggregates import register_sqlite_percentile

        connection_created.connect(register_sqlite_percentile, dispatch_uid="core.sqlite_percentile")
        connection_created.connect(use_sqlite_variable_limit, dispatch_uid="core.sqlite_variable_limit")
