"""The pinyin of each customer's name (customers.pinyin), filled in for the archive there is,
with a trigram index on PostgreSQL for the search by pinyin (customers.selectors.search_matches).

The fill changes no archive: on PostgreSQL it runs with the sync feed's re-base
switch on, so the rows keep their version (the API's ETag) and their place in
the feed (on SQLite, a development database, the rows are re-stamped). The
column is nullable so that SQLite adds it in place (ALTER TABLE ADD COLUMN):
rebuilding the table would break the triggers that name it.
"""

from django.db import migrations, models

from customers.pinyin import name_pinyin
from customers.sync_triggers import REBASE_SETTING

BATCH_SIZE = 2000
INDEX = "customer_name_pinyin_trgm"


def fill(apps, schema_editor):
    Customer = apps.get_model("customers", "Customer")
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', true)", [REBASE_SETTING])
    last = 0
    while True:
        batch = list(
            Customer._base_manager.filter(pk__gt=last).order_by("pk").only("pk", "name")[:BATCH_SIZE]
        )
        if not batch:
            break
        for customer in batch:
            customer.name_pinyin = name_pinyin(customer.name)
        Customer._base_manager.bulk_update(batch, ["name_pinyin"])
        last = batch[-1].pk
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'off', true)", [REBASE_SETTING])


def create_index(apps, schema_editor):
    # Before the fill: PostgreSQL refuses CREATE INDEX on a table with trigger events pending.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON customers_customer USING gin (name_pinyin gin_trgm_ops)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0014_sync_scope"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="name_pinyin",
            field=models.TextField(blank=True, editable=False, null=True, verbose_name="名称拼音"),  # noqa: DJ001
        ),
        migrations.RunPython(create_index, drop_index, elidable=False),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
    ]
