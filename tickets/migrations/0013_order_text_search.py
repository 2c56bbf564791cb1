"""The order list's text filter through indexes, PostgreSQL only (tickets.search): the
order number and title, each by pg_trgm (three characters and more, upper-cased as
Django's icontains compares) and by `crm_bigrams` (two characters, customers migration
0018). Built CONCURRENTLY: the orders table keeps taking writes meanwhile. Nothing on
SQLite, which searches with plain LIKE scans.
"""

from django.db import migrations

from core.lookups import BIGRAMS_FUNCTION

INDEXES = {
    "ticket_number_trgm": "gin (UPPER(number) gin_trgm_ops)",
    "ticket_title_trgm": "gin (UPPER(title) gin_trgm_ops)",
    "ticket_number_bigrams": f"gin ({BIGRAMS_FUNCTION}(number))",
    "ticket_title_bigrams": f"gin ({BIGRAMS_FUNCTION}(title))",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON tickets_ticket USING {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0018_two_character_search"),
        ("tickets", "0012_dashboard_covering_indexes"),
    ]

    operations = [migrations.RunPython(create, drop, atomic=False, elidable=False)]
