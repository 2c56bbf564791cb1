"""IdempotentRequest now belongs to core (core.0001 takes over the same table)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0001_idempotent_request"),
        ("core", "0001_idempotent_request"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="IdempotentRequest")],
            database_operations=[],
        ),
    ]
