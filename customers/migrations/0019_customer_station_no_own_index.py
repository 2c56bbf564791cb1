"""The customer's station loses its own index: `customer_station_id` (station, id) serves it.

With both, the planner read a page of one station's newest customers off the
station-only index (every row of the station, then a sort) instead of the
(station, id) index's first rows. Dropped by name rather than by AlterField,
which on SQLite would rebuild the table under the sync triggers.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "customers_customer_station_id_d8c9beda"


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_integration_role"),
        ("customers", "0018_two_character_search"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="station",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="customers",
                        to="accounts.orgunit",
                        verbose_name="供电所",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    reverse_sql=f"CREATE INDEX IF NOT EXISTS {INDEX} ON customers_customer (station_id)",
                ),
            ],
        ),
    ]
