"""Lengths for the texts people write (core.text).

Only the state changes: a text column stays a text column, and a table rebuild
(SQLite) would drop the sync triggers. Rows already over a limit are kept as
they are; `manage.py check_text_lengths` lists them.
"""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0015_customer_name_pinyin"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="notes",
                    field=models.TextField(
                        blank=True,
                        max_length=2000,
                        validators=[django.core.validators.MaxLengthValidator(2000)],
                        verbose_name="备注",
                    ),
                ),
                migrations.AlterField(
                    model_name="historicalcustomer",
                    name="notes",
                    field=models.TextField(
                        blank=True,
                        max_length=2000,
                        validators=[django.core.validators.MaxLengthValidator(2000)],
                        verbose_name="备注",
                    ),
                ),
                migrations.AlterField(
                    model_name="interaction",
                    name="summary",
                    field=models.TextField(
                        max_length=2000,
                        validators=[django.core.validators.MaxLengthValidator(2000)],
                        verbose_name="联系内容",
                    ),
                ),
                migrations.AlterField(
                    model_name="visit",
                    name="outcome",
                    field=models.TextField(
                        blank=True,
                        max_length=2000,
                        validators=[django.core.validators.MaxLengthValidator(2000)],
                        verbose_name="走访结果",
                    ),
                ),
                migrations.AlterField(
                    model_name="visit",
                    name="prep_cause",
                    field=models.TextField(
                        blank=True,
                        max_length=2000,
                        validators=[django.core.validators.MaxLengthValidator(2000)],
                        verbose_name="诉求缘由",
                    ),
                ),
                migrations.AlterField(
                    model_name="visit",
                    name="prep_solution",
                    field=models.TextField(
                        blank=True,
                        max_length=2000,
                        validators=[django.core.validators.MaxLengthValidator(2000)],
                        verbose_name="初步解决方案",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
