"""Every archive and contact without a history record gets its first one ("created", dated when it
was made), so the first edit of a seeded or imported archive shows old → new in 变更记录.

Set-based INSERT ... SELECT in batches of ids (core.history); the same code on SQLite and PostgreSQL.
"""

from django.db import migrations

from core.history import insert_baseline_history

BATCH = 5000


def backfill_baselines(apps, schema_editor) -> None:
    for name in ("Customer", "Contact"):
        insert_baseline_history(
            apps.get_model("customers", name),
            apps.get_model("customers", f"Historical{name}"),
            batch_size=BATCH,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0008_search_trigram_indexes"),
    ]

    operations = [
        migrations.RunPython(backfill_baselines, migrations.RunPython.noop),
    ]
