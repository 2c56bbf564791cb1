"""Lengths for the texts people write (core.text).

Only the state changes: a text column stays a text column, and a table rebuild
(SQLite) would drop the sync triggers. Rows already over a limit are kept as
they are; `manage.py check_text_lengths` lists them.
"""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("groups", "0005_group_posts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="broadcast",
                    name="body",
                    field=models.TextField(
                        max_length=2000,
                        validators=[django.core.validators.MaxLengthValidator(2000)],
                        verbose_name="正文",
                    ),
                ),
                migrations.AlterField(
                    model_name="groupmessage",
                    name="text",
                    field=models.TextField(
                        max_length=4000,
                        validators=[django.core.validators.MaxLengthValidator(4000)],
                        verbose_name="内容",
                    ),
                ),
                migrations.AlterField(
                    model_name="replytemplate",
                    name="body",
                    field=models.TextField(
                        max_length=2000,
                        validators=[django.core.validators.MaxLengthValidator(2000)],
                        verbose_name="话术内容",
                    ),
                ),
                migrations.AlterField(
                    model_name="servicegroup",
                    name="announcement",
                    field=models.TextField(
                        blank=True,
                        max_length=2000,
                        validators=[django.core.validators.MaxLengthValidator(2000)],
                        verbose_name="群公告",
                    ),
                ),
                migrations.AlterField(
                    model_name="servicegroup",
                    name="rules",
                    field=models.TextField(
                        max_length=2000,
                        validators=[django.core.validators.MaxLengthValidator(2000)],
                        verbose_name="群规",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
