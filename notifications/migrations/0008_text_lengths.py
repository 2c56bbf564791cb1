"""Lengths for the texts people write (core.text).

Only the state changes: a text column stays a text column, and a table rebuild
(SQLite) would drop the sync triggers. Rows already over a limit are kept as
they are; `manage.py check_text_lengths` lists them.
"""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0007_digests_and_key_prefix_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="smstemplate",
                    name="sample_text",
                    field=models.TextField(
                        blank=True,
                        max_length=1000,
                        validators=[django.core.validators.MaxLengthValidator(1000)],
                        verbose_name="示例内容",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
