"""Customer.version and Customer.sync_stamp, kept by database triggers (see customers.sync_triggers)."""

from django.db import migrations, models

from customers.sync_triggers import STATEMENTS


def _run(schema_editor, direction: int) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in STATEMENTS:
        raise NotImplementedError(f"no sync triggers for the {vendor} backend")
    for statement in STATEMENTS[vendor][direction]:
        schema_editor.execute(statement, params=None)


def install_triggers(apps, schema_editor):
    _run(schema_editor, 0)


def remove_triggers(apps, schema_editor):
    _run(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_contact_constraint_messages"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="version",
            field=models.PositiveIntegerField(default=1, editable=False, verbose_name="版本"),
        ),
        migrations.AddField(
            model_name="customer",
            name="sync_stamp",
            field=models.BigIntegerField(default=0, editable=False, verbose_name="同步序号"),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["sync_stamp", "id"], name="customer_sync_stamp_id"),
        ),
        migrations.RunPython(install_triggers, remove_triggers),
    ]
