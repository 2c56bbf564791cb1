"""A user's new username takes the customers' table lock before its own row lock.

A username is a key (unique), so changing it locks the user's row against the
foreign-key checks of customer writes; the touch trigger then waited for the
customers' lock, while a writer holding customers waited for that user's row:
a deadlock. Statements that set `username` now take the customers' lock first
(as station, district and line updates do). Logins write `last_login` alone and
are not held up.
"""

from django.db import migrations

FORWARD = """
CREATE TRIGGER customers_sync_lock_manager_id
BEFORE UPDATE OF username ON accounts_user
FOR EACH STATEMENT EXECUTE FUNCTION customers_sync_lock_customers()
"""
REVERSE = "DROP TRIGGER IF EXISTS customers_sync_lock_manager_id ON accounts_user"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0016_text_lengths"),
    ]

    operations = [migrations.RunPython(forward, reverse)]
