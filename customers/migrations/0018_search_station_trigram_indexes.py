"""The customer search's name, address and pinyin indexes lead with the station, PostgreSQL only.

A supervisor's search (customers.selectors.search_matches) asks for a term's
matches among their stations' customers. With the trigrams alone in the index
the database reads every match of the prefecture and drops the other counties'
rows one by one; with the station in the same GIN index (btree_gin) it reads
the county's matches only. A search without a station condition (an
administrator's) reads the trigrams of the same index, so the trigram-only
indexes of migrations 0008 and 0015 are replaced, not kept beside. btree_gin,
like pg_trgm, is a trusted extension (PostgreSQL 13+). SQLite has no such
indexes and searches with plain LIKE scans.
"""

from django.db import migrations

NEW = {
    "customer_station_name_trgm": "customers_customer USING gin (station_id, UPPER(name) gin_trgm_ops)",
    "customer_station_address_trgm": "customers_customer USING gin (station_id, UPPER(address) gin_trgm_ops)",
    "customer_station_name_pinyin_trgm": "customers_customer USING gin (station_id, name_pinyin gin_trgm_ops)",
}
OLD = {
    "customer_name_trgm": "customers_customer USING gin (UPPER(name) gin_trgm_ops)",
    "customer_address_trgm": "customers_customer USING gin (UPPER(address) gin_trgm_ops)",
    "customer_name_pinyin_trgm": "customers_customer USING gin (name_pinyin gin_trgm_ops)",
}


def _swap(schema_editor, create: dict[str, str], drop: dict[str, str]) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'btree_gin'")
        if cursor.fetchone() is None:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        for name, definition in create.items():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")
        for name in drop:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


def forward(apps, schema_editor):
    _swap(schema_editor, NEW, OLD)


def backward(apps, schema_editor):
    # The extension stays: other objects may use it, and it costs nothing idle.
    _swap(schema_editor, OLD, NEW)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0017_user_rename_locks_customers_first"),
    ]

    operations = [
        migrations.RunPython(forward, backward, elidable=False),
    ]
