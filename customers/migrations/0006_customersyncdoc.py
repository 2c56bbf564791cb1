"""The sync feed's rows rendered by PostgreSQL triggers (see customers.sync_triggers)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from customers.sync_triggers import SYNC_DOC_REVERSE, sync_doc_forward


def install_renderer(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite builds the feed's rows in Python
    for statement in sync_doc_forward(settings.TIME_ZONE):
        schema_editor.execute(statement, params=None)


def remove_renderer(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in SYNC_DOC_REVERSE:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0005_merge"),
    ]

    operations = [
        migrations.CreateModel(
            name="CustomerSyncDoc",
            fields=[
                (
                    "customer",
                    models.OneToOneField(
                                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="customers.customer",
                        verbose_name="客户",
                    ),
                ),
                ("head", models.TextField(verbose_name="同步行")),
                ("contacts", models.TextField(verbose_name="联系人（同步行）")),
                ("contacts_masked", models.TextField(null=True, verbose_name="联系人（号码脱敏）")),
            ],
            options={
                "verbose_name": "客户同步行",
                "verbose_name_plural": "客户同步行",
            },
        ),
        migrations.RunPython(install_renderer, remove_renderer),
    ]
