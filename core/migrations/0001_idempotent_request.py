"""IdempotentRequest moves from the crm app to core; its table stays where it is."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("crm", "0001_idempotent_request"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='IdempotentRequest',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('key', models.CharField(max_length=255, verbose_name='幂等键')),
                        ('method', models.CharField(max_length=8, verbose_name='请求方法')),
                        ('path', models.CharField(max_length=255, verbose_name='请求路径')),
                        ('fingerprint', models.CharField(max_length=64, verbose_name='请求指纹')),
                        ('status_code', models.PositiveSmallIntegerField(verbose_name='响应状态码')),
                        ('response_body', models.JSONField(blank=True, null=True, verbose_name='响应内容')),
                        ('response_headers', models.JSONField(blank=True, default=dict, verbose_name='响应头')),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='时间')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='idempotent_requests', to=settings.AUTH_USER_MODEL, verbose_name='用户')),
                    ],
                    options={
                        'db_table': 'crm_idempotentrequest',
                        'verbose_name': '幂等请求',
                        'verbose_name_plural': '幂等请求',
                        'constraints': [models.UniqueConstraint(fields=('user', 'key'), name='idempotent_request_user_key')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
