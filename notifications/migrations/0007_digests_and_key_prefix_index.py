"""Digests of alerts (DigestEntry), and the outbox's key-prefix search through an index.

The reminders of an order are found by the prefix of their dedupe keys
("ticket:4711:"). The unique index on the key uses the database collation,
which a LIKE 'prefix%' cannot use unless it is "C"; a btree with
varchar_pattern_ops answers it as a range. PostgreSQL only (SQLite's LIKE
optimisation needs no second index at the sizes it serves).
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def create_key_prefix_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS notification_key_prefix "
            "ON notifications_notification (dedupe_key varchar_pattern_ops)"
        )


def drop_key_prefix_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS notification_key_prefix")


class Migration(migrations.Migration):

    dependencies = [
        ('notifications', '0006_outbox_withdrawn_status'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='DigestEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('topic', models.SlugField(max_length=40, verbose_name='汇总类型')),
                ('dedupe_key', models.CharField(max_length=200, unique=True, verbose_name='去重键')),
                ('subject', models.CharField(max_length=200, verbose_name='内容')),
                ('link', models.CharField(blank=True, max_length=300, verbose_name='链接')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='创建时间')),
                ('notification', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='digest_entries', to='notifications.notification', verbose_name='汇总消息')),
                ('recipient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='digest_entries', to=settings.AUTH_USER_MODEL, verbose_name='接收人')),
            ],
            options={
                'verbose_name': '待汇总提醒',
                'verbose_name_plural': '待汇总提醒',
                'ordering': ['id'],
                'indexes': [models.Index(condition=models.Q(('notification__isnull', True)), fields=['id'], name='digest_entry_waiting')],
            },
        ),
        migrations.RunPython(create_key_prefix_index, drop_key_prefix_index, elidable=False),
    ]
