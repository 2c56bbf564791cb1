"""The 户号 suffix search through a btree on the reversed number, PostgreSQL only.

Every 户号 of a prefecture starts with the same few digits, so their trigrams
are in nearly every row: a trigram index answers LIKE '%suffix' by merging
posting lists of a million entries each (over 100 ms at a million customers).
A suffix is a prefix of the reversed number, which a btree with
text_pattern_ops answers as a range, like the prefix search on the number's
own index. The number's trigram index, now unused, is dropped.
"""

from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS customer_number_reversed "
            "ON customers_customer (REVERSE(number) text_pattern_ops)"
        )
        cursor.execute("DROP INDEX IF EXISTS customer_number_trgm")
        # Statistics of the reversed number: without them the planner guesses thousands of
        # matches and joins the scope's own index in (a sample read, under a second at 1M rows).
        cursor.execute("ANALYZE customers_customer")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS customer_number_trgm "
            "ON customers_customer USING gin (number gin_trgm_ops)"
        )
        cursor.execute("DROP INDEX IF EXISTS customer_number_reversed")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0009_history_baseline"),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
