"""Trigram indexes for the customer search (customers.selectors.customer_search), PostgreSQL only.

pg_trgm GIN indexes serve LIKE '%fragment%' for the 户号 (prefix and suffix),
the name and address (upper-cased, as Django's icontains compares), a
contact's mobile and its landline without the dash. pg_trgm is a trusted
extension (PostgreSQL 13+): a database owner without superuser rights may
create it, and nobody needs to when it is there already. SQLite searches with
plain LIKE scans and gets no index.
"""

from django.db import migrations

INDEXES = {
    "customer_number_trgm": "customers_customer USING gin (number gin_trgm_ops)",
    "customer_name_trgm": "customers_customer USING gin (UPPER(name) gin_trgm_ops)",
    "customer_address_trgm": "customers_customer USING gin (UPPER(address) gin_trgm_ops)",
    "contact_mobile_trgm": "customers_contact USING gin (mobile gin_trgm_ops)",
    "contact_landline_digits_trgm": "customers_contact USING gin (REPLACE(landline, '-', '') gin_trgm_ops)",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is None:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, definition in INDEXES.items():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # The extension stays: other objects may use it, and it costs nothing idle.
    with schema_editor.connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0007_contact_landline"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
