"""A two-character fragment of a name, an address or a name's pinyin (王伟, 营上, zl) searched
through an index on PostgreSQL (core.lookups.ContainsPair): pg_trgm cannot answer a
fragment shorter than three characters, so such a search read the whole scope.

`crm_bigrams(text)` is the text's distinct two-character pieces, upper-cased; a GIN
index on it per column answers `crm_bigrams(column) @> ARRAY['王伟']`. Built
CONCURRENTLY: the archive keeps taking writes meanwhile. Nothing on SQLite.
"""

from django.db import migrations

from core.lookups import BIGRAMS_FUNCTION

FUNCTION = f"""
CREATE OR REPLACE FUNCTION {BIGRAMS_FUNCTION}(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT COALESCE(array_agg(DISTINCT substr(upper(value), i, 2)), '{{}}')
    FROM generate_series(1, char_length(upper(value)) - 1) AS i
$$
"""
INDEXES = {
    "customer_name_bigrams": "name",
    "customer_address_bigrams": "address",
    "customer_name_pinyin_bigrams": "name_pinyin",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} "
            f"ON customers_customer USING gin ({BIGRAMS_FUNCTION}({column}))"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {BIGRAMS_FUNCTION}(text)")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("customers", "0017_user_rename_locks_customers_first"),
    ]

    operations = [migrations.RunPython(create, drop, atomic=False, elidable=False)]
