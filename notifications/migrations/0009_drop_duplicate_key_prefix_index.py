"""Drop notification_key_prefix: the same index as Django's own.

0007 added (dedupe_key varchar_pattern_ops) for the LIKE 'prefix%' searches, but on
PostgreSQL Django already makes that index for a unique CharField
(notifications_notification_dedupe_key_…_like). Two identical indexes double the
upkeep of every outbox row written (a fan-out writes tens of thousands at once)
and serve no query better than one.
"""

from django.db import migrations


def drop_duplicate(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_indexes WHERE tablename = 'notifications_notification' "
            "AND indexname LIKE 'notifications_notification_dedupe_key_%_like'"
        )
        if cursor.fetchone() is None:  # keep the prefix search served by one index at least
            return
        cursor.execute("DROP INDEX IF EXISTS notification_key_prefix")


def recreate(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS notification_key_prefix "
            "ON notifications_notification (dedupe_key varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0008_text_lengths"),
    ]

    operations = [
        migrations.RunPython(drop_duplicate, recreate, elidable=False),
    ]
