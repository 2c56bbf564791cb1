"""Customer.version and Customer.sync_stamp, kept by database triggers.

PostgreSQL
    A BEFORE INSERT OR UPDATE row trigger on customers_customer stamps the row
    with the writing transaction's id (pg_current_xact_id()) and sets the
    version (1 on insert, old + 1 on update). Statement triggers on
    customers_contact "touch" the customers whose contacts were inserted,
    updated or deleted (UPDATE ... SET version = version), which fires the
    row trigger: a contact change is a change of its customer.

SQLite
    Writers are serialized, so a counter (table customers_sync_clock) bumped
    inside the writing transaction orders writes as they commit. SQLite's
    triggers cannot change NEW, so AFTER triggers write the stamp back with an
    UPDATE. The update trigger fires only when the writer did not itself move
    the stamp forward (NEW.sync_stamp <= OLD.sync_stamp: any ORM save or
    queryset.update()), which keeps the insert trigger's own write-back from
    counting as a second change. SQLite drops a table's triggers when a
    migration rebuilds the table (as it does for most AddField/AlterField
    operations there), so `install_missing` runs after every migrate
    (customers.apps) and creates again whatever is missing.
"""

POSTGRESQL_FORWARD = [
    "UPDATE customers_customer SET sync_stamp = pg_current_xact_id()::text::bigint",
    """
    CREATE OR REPLACE FUNCTION customers_customer_stamp() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        NEW.sync_stamp := pg_current_xact_id()::text::bigint;
        IF TG_OP = 'UPDATE' THEN
            NEW.version := OLD.version + 1;
        ELSE
            NEW.version := 1;
        END IF;
        RETURN NEW;
    END;
    $$
    """,
    """
    CREATE TRIGGER customers_customer_stamp
    BEFORE INSERT OR UPDATE ON customers_customer
    FOR EACH ROW EXECUTE FUNCTION customers_customer_stamp()
    """,
    """
    CREATE OR REPLACE FUNCTION customers_contact_touch_customer() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE customers_customer SET version = version
            WHERE id IN (SELECT customer_id FROM new_rows);
        ELSIF TG_OP = 'UPDATE' THEN
            UPDATE customers_customer SET version = version
            WHERE id IN (SELECT customer_id FROM new_rows UNION SELECT customer_id FROM old_rows);
        ELSE
            UPDATE customers_customer SET version = version
            WHERE id IN (SELECT customer_id FROM old_rows);
        END IF;
        RETURN NULL;
    END;
    $$
    """,
    """
    CREATE TRIGGER customers_contact_touch_insert
    AFTER INSERT ON customers_contact REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_contact_touch_customer()
    """,
    """
    CREATE TRIGGER customers_contact_touch_update
    AFTER UPDATE ON customers_contact REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_contact_touch_customer()
    """,
    """
    CREATE TRIGGER customers_contact_touch_delete
    AFTER DELETE ON customers_contact REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_contact_touch_customer()
    """,
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS customers_contact_touch_delete ON customers_contact",
    "DROP TRIGGER IF EXISTS customers_contact_touch_update ON customers_contact",
    "DROP TRIGGER IF EXISTS customers_contact_touch_insert ON customers_contact",
    "DROP FUNCTION IF EXISTS customers_contact_touch_customer()",
    "DROP TRIGGER IF EXISTS customers_customer_stamp ON customers_customer",
    "DROP FUNCTION IF EXISTS customers_customer_stamp()",
]

SQLITE_FORWARD = [
    "CREATE TABLE IF NOT EXISTS customers_sync_clock "
    "(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO customers_sync_clock (id, value) VALUES (1, 1)",
    "UPDATE customers_customer SET sync_stamp = 1",
    """
    CREATE TRIGGER customers_customer_stamp_insert
    AFTER INSERT ON customers_customer
    BEGIN
        UPDATE customers_sync_clock SET value = value + 1 WHERE id = 1;
        UPDATE customers_customer
        SET sync_stamp = (SELECT value FROM customers_sync_clock WHERE id = 1), version = 1
        WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER customers_customer_stamp_update
    AFTER UPDATE ON customers_customer
    WHEN NEW.sync_stamp <= OLD.sync_stamp
    BEGIN
        UPDATE customers_sync_clock SET value = value + 1 WHERE id = 1;
        UPDATE customers_customer
        SET sync_stamp = (SELECT value FROM customers_sync_clock WHERE id = 1), version = OLD.version + 1
        WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER customers_contact_touch_insert
    AFTER INSERT ON customers_contact
    BEGIN
        UPDATE customers_customer SET version = version WHERE id = NEW.customer_id;
    END
    """,
    """
    CREATE TRIGGER customers_contact_touch_update
    AFTER UPDATE ON customers_contact
    BEGIN
        UPDATE customers_customer SET version = version WHERE id IN (OLD.customer_id, NEW.customer_id);
    END
    """,
    """
    CREATE TRIGGER customers_contact_touch_delete
    AFTER DELETE ON customers_contact
    BEGIN
        UPDATE customers_customer SET version = version WHERE id = OLD.customer_id;
    END
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS customers_contact_touch_delete",
    "DROP TRIGGER IF EXISTS customers_contact_touch_update",
    "DROP TRIGGER IF EXISTS customers_contact_touch_insert",
    "DROP TRIGGER IF EXISTS customers_customer_stamp_update",
    "DROP TRIGGER IF EXISTS customers_customer_stamp_insert",
    "DROP TABLE IF EXISTS customers_sync_clock",
]

STATEMENTS = {
    "postgresql": (POSTGRESQL_FORWARD, POSTGRESQL_REVERSE),
    "sqlite": (SQLITE_FORWARD, SQLITE_REVERSE),
}


def install_missing(connection) -> None:
    """Create the SQLite triggers a table rebuild dropped (a no-op elsewhere:
    PostgreSQL keeps triggers across ALTER TABLE)."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'customers_sync_clock'"
        )
        if cursor.fetchone() is None:
            return  # the migration that adds the triggers has not run yet
        for statement in SQLITE_FORWARD:
            if statement.lstrip().startswith("CREATE TRIGGER"):
                cursor.execute(statement.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1))
