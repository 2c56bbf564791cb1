"""The sync feed's scope exits, epoch and waiting renames (see customers.sync_triggers)."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from customers.sync_triggers import SCOPE_STATEMENTS, scope_forward


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in scope_forward(vendor):
        schema_editor.execute(statement, params=None)
    origin = ""
    if vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT customers_sync_origin()")
            origin = cursor.fetchone()[0]
    apps.get_model("customers", "SyncEpoch").objects.update_or_create(
        pk=1, defaults={"epoch": uuid.uuid4(), "origin": origin}
    )


def remove(apps, schema_editor):
    for statement in SCOPE_STATEMENTS[schema_editor.connection.vendor][1]:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("customers", "0013_phone_access"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SyncEpoch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("epoch", models.UUIDField(default=uuid.uuid4, verbose_name="同步纪元")),
                ("origin", models.CharField(blank=True, max_length=64, verbose_name="数据库标识")),
                ("scope_generation", models.PositiveIntegerField(default=1, verbose_name="范围代次")),
                ("units_version", models.PositiveIntegerField(default=1, verbose_name="组织树版本")),
            ],
            options={"verbose_name": "同步纪元", "verbose_name_plural": "同步纪元"},
        ),
        migrations.CreateModel(
            name="CustomerSyncExit",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("customer_pk", models.BigIntegerField(verbose_name="客户ID")),
                ("number", models.CharField(max_length=13, verbose_name="户号")),
                (
                    "reason",
                    models.CharField(
                        choices=[("out_of_scope", "移出可见范围"), ("deleted", "已删除")],
                        max_length=16,
                        verbose_name="原因",
                    ),
                ),
                ("sync_stamp", models.BigIntegerField(verbose_name="同步序号")),
                (
                    "manager",
                    models.ForeignKey(
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="原客户经理",
                    ),
                ),
                (
                    "station",
                    models.ForeignKey(
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="accounts.orgunit",
                        verbose_name="原供电所",
                    ),
                ),
            ],
            options={
                "verbose_name": "同步移出记录",
                "verbose_name_plural": "同步移出记录",
                "indexes": [models.Index(fields=["sync_stamp", "customer_pk"], name="customer_sync_exit_stamp")],
            },
        ),
        migrations.RunPython(install, remove),
    ]
