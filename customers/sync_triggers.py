"""Customer.version and Customer.sync_stamp, kept by database triggers.

PostgreSQL
    A BEFORE INSERT OR UPDATE row trigger on customers_customer stamps the row
    with the writing transaction's id (pg_current_xact_id()) and sets the
    version (1 on insert, old + 1 on update). Statement triggers on
    customers_contact "touch" the customers whose contacts were inserted,
    updated or deleted (UPDATE ... SET version = version), which fires the
    row trigger: a contact change is a change of its customer.

    Migration 0006 adds the rendered rows of the feed (see the second half
    of this module).

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

Both
    A new code or name of a station, district or line, or a new username or
    real name of a manager, touches every customer showing it (their rows in
    the feed say it), so the feed brings them again. Renaming a unit thus
    writes all of its customers in one transaction: a rare, heavy write.
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
# A new code or name of a station, district or line, or a new username or
# real name of a manager, changes what the feed shows of every customer
# showing it: they are touched, so the feed brings them again (PostgreSQL
# does the same with statement triggers, migration 0006).
SHOWN_ELSEWHERE = (
    ("accounts_orgunit", ("code", "name"), "station_id"),
    ("customers_district", ("code", "name"), "district_id"),
    ("customers_line", ("code", "name"), "line_id"),
    ("accounts_user", ("username", "real_name"), "manager_id"),
)
SQLITE_FORWARD += [
    f"""
    CREATE TRIGGER customers_sync_touch_{column}
    AFTER UPDATE OF {", ".join(fields)} ON {table}
    WHEN {" OR ".join(f"NEW.{name} IS NOT OLD.{name}" for name in fields)}
    BEGIN
        UPDATE customers_customer SET version = version WHERE {column} = NEW.id;
    END
    """
    for table, fields, column in SHOWN_ELSEWHERE
]
SQLITE_REVERSE = [
    *(f"DROP TRIGGER IF EXISTS customers_sync_touch_{column}" for _t, _f, column in SHOWN_ELSEWHERE),
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
        statements = list(SQLITE_FORWARD)
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = %s", [EXIT_TABLE])
        if cursor.fetchone() is not None:
            statements += SQLITE_SCOPE_FORWARD  # migration 0012 has run
        for statement in statements:
            if statement.lstrip().startswith("CREATE TRIGGER"):
                cursor.execute(statement.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1))


# --- The sync feed's rendered rows (PostgreSQL, migration 0006) -----------------------------
#
# Each customer's row of the sync feed is kept as JSON text in
# customers_customersyncdoc (model CustomerSyncDoc), written by statement
# triggers in the same transaction as the customer's stamp, so a page of the
# feed is read, not built. A row is `head || contacts`: `contacts` as the
# account manager sees them, `contacts_masked` with the phones masked for
# everybody else (core.phones.mask_phone, ported below for printable
# ASCII; a customer with any other phone has no `contacts_masked` and the
# reader masks that row in Python). A deleted archive's head is its tombstone.
#
# What a row shows beyond the customer's own columns changes it too: contacts
# already touch their customer (above); a new code or name of a station,
# district or line, or a new username or real name of a manager, touches
# every customer showing it, which re-stamps them: they come again in the
# feed, as after any other change of what their row says.
#
# Timestamps are written as DRF writes them in settings.TIME_ZONE, baked into
# customers_sync_zone() when the functions are installed; `refresh_zone`
# (after every migrate) renders every row again when the setting changed, and
# the reader falls back to building rows in Python while the zones differ.

SYNC_DOC_TABLE = "customers_customersyncdoc"
_ODD_PHONE = "[^ -~]"


def zone_function(zone: str) -> str:
    literal = "'" + zone.replace("'", "''") + "'"
    return (
        "CREATE OR REPLACE FUNCTION customers_sync_zone() RETURNS text"
        f" LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT {literal}::text $$"
    )


def _object(alias: str, columns: str, present: str) -> str:
    """A compact JSON object of `columns` (row_to_json keeps the names), null unless `present`."""
    return f"(SELECT row_to_json({alias}) FROM (SELECT {columns}) {alias} WHERE {present})"


def _contact_columns(phone) -> str:
    return (
        "k.id, k.name, k.relation,"
        f" {phone('k.mobile')} AS mobile, {phone('k.landline')} AS landline,"
        " k.wechat_id, k.email, k.preferred_channel, k.is_primary"
    )


def _json_array(alias: str) -> str:
    return f"'[' || string_agg(row_to_json({alias})::text, ',' ORDER BY k.is_primary DESC, k.id) || ']'"


def render_sql(source: str) -> str:
    """Render (insert or replace) the rows of the customers in `source` (rows of customers_customer)."""
    manager = "m.id, m.username, COALESCE(NULLIF(m.real_name, ''), m.username) AS name"
    head = f"""row_to_json(h)::text FROM (SELECT
            c.id, c.number, c.name, c.kind, c.segment, c.voltage, c.address,
            {_object("su", "s.id, s.code, s.name", "s.id IS NOT NULL")} AS station,
            {_object("du", "d.id, d.code, d.name", "d.id IS NOT NULL")} AS district,
            {_object("lu", "l.id, l.code, l.name", "l.id IS NOT NULL")} AS line,
            {_object("mu", manager, "m.id IS NOT NULL")} AS manager,
            c.vip_tier, c.is_high_sensitivity, c.is_important, c.is_key_attention, c.is_special,
            c.is_sensitive, c.wechat_bound, c.notes,
            customers_sync_moment(c.verified_at) AS verified_at, c.completeness,
            customers_sync_moment(c.created_at) AS created_at,
            customers_sync_moment(c.updated_at) AS updated_at, c.version) h"""
    return f"""
    INSERT INTO {SYNC_DOC_TABLE} (customer_id, head, contacts, contacts_masked)
    SELECT c.id,
           CASE WHEN c.deleted_at IS NOT NULL
                THEN json_build_object('number', c.number, 'deleted', true)::text
                ELSE left((SELECT {head}), -1) || ',"contacts":' END,
           CASE WHEN c.deleted_at IS NOT NULL THEN ''
                ELSE COALESCE(cs.contacts, '[]') || ',"deleted":false}}' END,
           CASE WHEN c.deleted_at IS NOT NULL THEN ''
                WHEN cs.odd THEN NULL
                ELSE COALESCE(cs.masked, '[]') || ',"deleted":false}}' END
    FROM {source} c
    LEFT JOIN accounts_orgunit s ON s.id = c.station_id
    LEFT JOIN customers_district d ON d.id = c.district_id
    LEFT JOIN customers_line l ON l.id = c.line_id
    LEFT JOIN accounts_user m ON m.id = c.manager_id
    CROSS JOIN LATERAL (
        SELECT {_json_array("kx")} AS contacts, {_json_array("km")} AS masked,
               bool_or(k.mobile ~ '{_ODD_PHONE}' OR k.landline ~ '{_ODD_PHONE}') AS odd
        FROM customers_contact k
        CROSS JOIN LATERAL (SELECT {_contact_columns(lambda column: column)}) kx
        CROSS JOIN LATERAL (SELECT {_contact_columns(lambda column: f"customers_sync_mask({column})")}) km
        WHERE k.customer_id = c.id
    ) cs
    WHERE true  -- so that ON CONFLICT is not read as a join condition
    ON CONFLICT (customer_id) DO UPDATE
    SET head = EXCLUDED.head, contacts = EXCLUDED.contacts, contacts_masked = EXCLUDED.contacts_masked
    """


def _touch_function(table: str, fields: tuple[str, str], column: str) -> list[str]:
    """A statement trigger on `table`: customers showing a row whose `fields` changed are re-stamped."""
    changed = " OR ".join(f"n.{name} IS DISTINCT FROM o.{name}" for name in fields)
    function = f"customers_sync_touch_{column}"
    return [
        f"""
        CREATE OR REPLACE FUNCTION {function}() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {changed}) THEN
                -- Wait for every open write of customers, and keep new ones out until this
                -- commits: a customer written into this unit by a transaction that started
                -- before the rename is touched here, one written later renders the new name.
                LOCK TABLE customers_customer IN SHARE ROW EXCLUSIVE MODE;
                UPDATE customers_customer SET version = version
                WHERE {column} IN (
                    SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE {changed}
                );
            END IF;
            RETURN NULL;
        END;
        $$
        """,
        f"""
        CREATE TRIGGER {function}
        AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION {function}()
        """,
    ]


# Every row rendered again, without a new stamp (what it says has not changed).
RENDER_ALL = render_sql("customers_customer")


# Seconds east of UTC in the feed's time zone at `value`.
_SHIFT = (
    "extract(epoch FROM (value AT TIME ZONE customers_sync_zone()) - (value AT TIME ZONE 'UTC'))::integer"
)


# How many of a phone's characters are digits (translate() is much cheaper than a regexp).
_DIGITS = "length(phone) - length(translate(phone, '0123456789', ''))"


def sync_doc_forward(zone: str) -> list[str]:
    statements = [
        zone_function(zone),
        # The UTC offset as Python's isoformat writes it, Z for none (as DRF does). Plain
        # expressions of the arguments, so that PostgreSQL inlines the function.
        f"""
        CREATE OR REPLACE FUNCTION customers_sync_offset(value timestamptz) RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT CASE WHEN {_SHIFT} = 0 THEN 'Z'
                    ELSE CASE WHEN {_SHIFT} < 0 THEN '-' ELSE '+' END
                         || lpad((abs({_SHIFT}) / 3600)::text, 2, '0')
                         || ':' || lpad((abs({_SHIFT}) % 3600 / 60)::text, 2, '0')
                         || CASE WHEN abs({_SHIFT}) % 60 = 0 THEN ''
                                 ELSE ':' || lpad((abs({_SHIFT}) % 60)::text, 2, '0') END
               END
        $$
        """,
        # DRF's DateTimeField: local time, ISO 8601, microseconds only when not 0.
        """
        CREATE OR REPLACE FUNCTION customers_sync_moment(value timestamptz) RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT to_char(value AT TIME ZONE customers_sync_zone(), 'YYYY-MM-DD"T"HH24:MI:SS')
            || CASE WHEN extract(microseconds FROM value AT TIME ZONE 'UTC')::bigint % 1000000 = 0
                    THEN '' ELSE to_char(value AT TIME ZONE 'UTC', '.US') END
            || customers_sync_offset(value)
        $$
        """,
        # core.phones.mask_phone for printable ASCII (where \\d is [0-9]).
        f"""
        CREATE OR REPLACE FUNCTION customers_sync_mask(phone text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE
            WHEN phone IS NULL OR phone = '' THEN ''
            WHEN {_DIGITS} < 7 THEN repeat('*', length(phone))
            WHEN {_DIGITS} = 11 AND left(phone, 1) = '1'
                THEN left(phone, 3) || '****' || right(phone, 4)
            WHEN strpos(phone, '-') > 0
                THEN left(phone, strpos(phone, '-')) || repeat('*', length(phone) - strpos(phone, '-') - 4)
                     || right(phone, 4)
            ELSE left(phone, 3) || repeat('*', length(phone) - 7) || right(phone, 4)
        END
        $$
        """,
        f"""
        CREATE OR REPLACE FUNCTION customers_customer_render() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                DELETE FROM {SYNC_DOC_TABLE} WHERE customer_id IN (SELECT id FROM old_rows);
            ELSE
                {render_sql("new_rows")};
            END IF;
            RETURN NULL;
        END;
        $$
        """,
        """
        CREATE TRIGGER customers_customer_render_insert
        AFTER INSERT ON customers_customer REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION customers_customer_render()
        """,
        """
        CREATE TRIGGER customers_customer_render_update
        AFTER UPDATE ON customers_customer REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION customers_customer_render()
        """,
        """
        CREATE TRIGGER customers_customer_render_delete
        AFTER DELETE ON customers_customer REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION customers_customer_render()
        """,
    ]
    for table, fields, column in SHOWN_ELSEWHERE:
        statements += _touch_function(table, fields, column)
    statements.append(RENDER_ALL)
    return statements


SYNC_DOC_REVERSE = [
    *(
        f"DROP TRIGGER IF EXISTS customers_sync_touch_{column} ON {table}"
        for table, _fields, column in SHOWN_ELSEWHERE
    ),
    *(f"DROP FUNCTION IF EXISTS customers_sync_touch_{column}()" for _t, _f, column in SHOWN_ELSEWHERE),
    "DROP TRIGGER IF EXISTS customers_customer_render_delete ON customers_customer",
    "DROP TRIGGER IF EXISTS customers_customer_render_update ON customers_customer",
    "DROP TRIGGER IF EXISTS customers_customer_render_insert ON customers_customer",
    "DROP FUNCTION IF EXISTS customers_customer_render()",
    "DROP FUNCTION IF EXISTS customers_sync_mask(text)",
    "DROP FUNCTION IF EXISTS customers_sync_moment(timestamptz)",
    "DROP FUNCTION IF EXISTS customers_sync_offset(timestamptz)",
    "DROP FUNCTION IF EXISTS customers_sync_zone()",
]


def refresh_zone(connection, zone: str) -> None:
    """Render every row again when the time zone changed since the functions were installed."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regproc('customers_sync_zone') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return  # migration 0006 has not run yet
        cursor.execute("SELECT customers_sync_zone()")
        if cursor.fetchone()[0] == zone:
            return
        cursor.execute(zone_function(zone))
        cursor.execute(RENDER_ALL)


# --- Scope exits, the feed's epoch, renames that wait (migration 0012) ----------------------
#
# An archive that leaves a place (its station or manager changes, or the row
# is hard deleted) leaves a row in customers_customersyncexit, stamped like the
# customer row: the feed sends a tombstone to whoever could see it there and
# cannot see it now. Changes of the org tree bump the counters of the epoch row
# (models.SyncEpoch). A rename touches its customers under a table lock (see
# _touch_function) so that no customer written concurrently keeps the old name.

EXIT_TABLE = "customers_customersyncexit"
EPOCH_TABLE = "customers_syncepoch"
REBASE_SETTING = "customers.sync_rebase"

_BUMP_UNITS = f"UPDATE {EPOCH_TABLE} SET units_version = units_version + 1"
_BUMP_SCOPES = (
    f"UPDATE {EPOCH_TABLE} SET units_version = units_version + 1, scope_generation = scope_generation + 1"
)


def _exit_columns() -> str:
    return f"{EXIT_TABLE} (customer_pk, number, station_id, manager_id, reason, sync_stamp)"


POSTGRESQL_SCOPE_FORWARD = [
    # The re-base after a restore (customers.api.sync.rebase) sets its own stamps.
    f"""
    CREATE OR REPLACE FUNCTION customers_customer_stamp() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting('{REBASE_SETTING}', true) = 'on' THEN
            RETURN NEW;
        END IF;
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
    f"""
    CREATE OR REPLACE FUNCTION customers_customer_exit() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            INSERT INTO {_exit_columns()}
            SELECT o.id, o.number, o.station_id, o.manager_id, 'deleted', pg_current_xact_id()::text::bigint
            FROM old_rows o;
        ELSE
            INSERT INTO {_exit_columns()}
            SELECT o.id, o.number, o.station_id, o.manager_id, 'out_of_scope',
                   pg_current_xact_id()::text::bigint
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.station_id IS DISTINCT FROM o.station_id OR n.manager_id IS DISTINCT FROM o.manager_id;
        END IF;
        RETURN NULL;
    END;
    $$
    """,
    """
    CREATE TRIGGER customers_sync_exit_update
    AFTER UPDATE ON customers_customer REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_customer_exit()
    """,
    """
    CREATE TRIGGER customers_sync_exit_delete
    AFTER DELETE ON customers_customer REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_customer_exit()
    """,
    f"""
    CREATE OR REPLACE FUNCTION customers_sync_units_moved() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (
            SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.path IS DISTINCT FROM o.path OR n.parent_id IS DISTINCT FROM o.parent_id
        ) THEN
            {_BUMP_SCOPES};
        END IF;
        RETURN NULL;
    END;
    $$
    """,
    """
    CREATE TRIGGER customers_sync_units_moved
    AFTER UPDATE ON accounts_orgunit REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION customers_sync_units_moved()
    """,
    f"""
    CREATE OR REPLACE FUNCTION customers_sync_units_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {_BUMP_UNITS};
        RETURN NULL;
    END;
    $$
    """,
    """
    CREATE TRIGGER customers_sync_units_changed
    AFTER INSERT OR DELETE ON accounts_orgunit
    FOR EACH STATEMENT EXECUTE FUNCTION customers_sync_units_changed()
    """,
    # Which cluster and database this is: a restored dump carries another one in its epoch row.
    """
    CREATE OR REPLACE FUNCTION customers_sync_origin() RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT (SELECT system_identifier FROM pg_control_system())::text
        || ':' || (SELECT oid FROM pg_database WHERE datname = current_database())::text
    $$
    """,
    # The feed's horizon: every transaction that could still commit a row of this database
    # has an id at or above `bound`. Transactions of other databases of the cluster are left
    # out when pg_stat_activity names them (it does for the same role); anything it cannot
    # place (a prepared transaction, another role's session) still counts. `since` is when
    # the transaction at the bound started, if known.
    """
    CREATE OR REPLACE FUNCTION customers_sync_horizon(OUT bound bigint, OUT since timestamptz)
    LANGUAGE sql STABLE AS $$
    WITH snap AS MATERIALIZED (SELECT pg_current_snapshot() AS s),
    -- Read once, and only when some transaction is running (CTEs run on demand).
    activity AS MATERIALIZED (
        SELECT a.backend_xid::text::bigint AS xid32, a.xact_start,
               a.datid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = current_database())
                   AS elsewhere
        FROM pg_stat_activity a WHERE a.backend_xid IS NOT NULL
    ),
    open AS (
        SELECT x::text::bigint AS xid FROM snap, pg_snapshot_xip(snap.s) x
        WHERE x::text::bigint % 4294967296 NOT IN (SELECT xid32 FROM activity WHERE elsewhere)
    ),
    horizon AS (
        SELECT COALESCE((SELECT min(xid) FROM open),
                        (SELECT pg_snapshot_xmax(s)::text::bigint FROM snap)) AS b
    )
    SELECT b, (SELECT min(a.xact_start) FROM activity a WHERE a.xid32 = b % 4294967296)
    FROM horizon
    $$
    """,
]
# Units are written rarely (administrators), customers often: an update of a station, district
# or line takes the customers' table lock first, before its own row lock. A new code (a key
# column) locks the unit against the customers' foreign-key checks, so taking the table lock
# only afterwards (in the touch trigger) deadlocks with a writer that holds customers and checks
# that unit. Users are updated on every login (last_login alone): only a statement that sets
# their username takes the lock first (migration customers.0017).
_RENAMED_FIRST = [(table, column) for table, _fields, column in SHOWN_ELSEWHERE if table != "accounts_user"]
POSTGRESQL_SCOPE_FORWARD += [
    """
    CREATE OR REPLACE FUNCTION customers_sync_lock_customers() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        LOCK TABLE customers_customer IN SHARE ROW EXCLUSIVE MODE;
        RETURN NULL;
    END;
    $$
    """,
    *(
        f"""
        CREATE TRIGGER customers_sync_lock_{column}
        BEFORE UPDATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION customers_sync_lock_customers()
        """
        for table, column in _RENAMED_FIRST
    ),
]
POSTGRESQL_SCOPE_REVERSE = [
    *(f"DROP TRIGGER IF EXISTS customers_sync_lock_{column} ON {table}" for table, column in _RENAMED_FIRST),
    "DROP FUNCTION IF EXISTS customers_sync_lock_customers()",
    "DROP FUNCTION IF EXISTS customers_sync_horizon()",
    "DROP FUNCTION IF EXISTS customers_sync_origin()",
    "DROP TRIGGER IF EXISTS customers_sync_units_changed ON accounts_orgunit",
    "DROP FUNCTION IF EXISTS customers_sync_units_changed()",
    "DROP TRIGGER IF EXISTS customers_sync_units_moved ON accounts_orgunit",
    "DROP FUNCTION IF EXISTS customers_sync_units_moved()",
    "DROP TRIGGER IF EXISTS customers_sync_exit_delete ON customers_customer",
    "DROP TRIGGER IF EXISTS customers_sync_exit_update ON customers_customer",
    "DROP FUNCTION IF EXISTS customers_customer_exit()",
]

_SQLITE_STAMP = (
    "UPDATE customers_sync_clock SET value = value + 1 WHERE id = 1;"
    f" INSERT INTO {_exit_columns()} VALUES (OLD.id, OLD.number, OLD.station_id, OLD.manager_id, %s,"
    " (SELECT value FROM customers_sync_clock WHERE id = 1));"
)
SQLITE_SCOPE_FORWARD = [
    f"""
    CREATE TRIGGER customers_sync_exit_update
    AFTER UPDATE OF station_id, manager_id ON customers_customer
    WHEN NEW.station_id IS NOT OLD.station_id OR NEW.manager_id IS NOT OLD.manager_id
    BEGIN
        {_SQLITE_STAMP % "'out_of_scope'"}
    END
    """,
    f"""
    CREATE TRIGGER customers_sync_exit_delete
    AFTER DELETE ON customers_customer
    BEGIN
        {_SQLITE_STAMP % "'deleted'"}
    END
    """,
    f"""
    CREATE TRIGGER customers_sync_units_moved
    AFTER UPDATE OF path, parent_id ON accounts_orgunit
    WHEN NEW.path IS NOT OLD.path OR NEW.parent_id IS NOT OLD.parent_id
    BEGIN
        {_BUMP_SCOPES};
    END
    """,
    f"""
    CREATE TRIGGER customers_sync_units_inserted
    AFTER INSERT ON accounts_orgunit
    BEGIN
        {_BUMP_UNITS};
    END
    """,
    f"""
    CREATE TRIGGER customers_sync_units_deleted
    AFTER DELETE ON accounts_orgunit
    BEGIN
        {_BUMP_UNITS};
    END
    """,
]
SQLITE_SCOPE_REVERSE = [
    "DROP TRIGGER IF EXISTS customers_sync_units_deleted",
    "DROP TRIGGER IF EXISTS customers_sync_units_inserted",
    "DROP TRIGGER IF EXISTS customers_sync_units_moved",
    "DROP TRIGGER IF EXISTS customers_sync_exit_delete",
    "DROP TRIGGER IF EXISTS customers_sync_exit_update",
]
SCOPE_STATEMENTS = {
    "postgresql": (POSTGRESQL_SCOPE_FORWARD, POSTGRESQL_SCOPE_REVERSE),
    "sqlite": (SQLITE_SCOPE_FORWARD, SQLITE_SCOPE_REVERSE),
}


def scope_forward(vendor: str) -> list[str]:
    """Migration 0012 on `vendor`; on PostgreSQL the renames' touch functions are replaced
    too (they now wait for concurrent writers, see _touch_function)."""
    statements = list(SCOPE_STATEMENTS[vendor][0])
    if vendor == "postgresql":
        for table, fields, column in SHOWN_ELSEWHERE:
            statements.append(_touch_function(table, fields, column)[0])
    return statements


def ensure_epoch(connection) -> None:
    """Give the feed its epoch row when it has none, and re-base a restored PostgreSQL database.

    A dump restored into another cluster or database carries the epoch row of
    its source: its stamps are transaction ids of the old cluster (a fresh walk
    would see nothing below the new cluster's horizon, old cursors nothing
    new). The re-base sets every stamp to 1 (final, ordered by id; no new
    version, see customers_customer_stamp), forgets the exits and draws a new
    epoch, so that every cursor issued before answers 410. Runs after every
    migrate and when a sync request finds the mismatch.
    """
    import uuid

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [EPOCH_TABLE])
            if not cursor.fetchone()[0]:
                return  # migration 0012 has not run yet
            origin = "customers_sync_origin()"
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = %s", [EPOCH_TABLE])
            if cursor.fetchone() is None:
                return
            origin = "''"
        cursor.execute(
            f"INSERT INTO {EPOCH_TABLE} (id, epoch, origin, scope_generation, units_version)"
            f" VALUES (1, %s, {origin}, 1, 1) ON CONFLICT (id) DO NOTHING",
            [uuid.uuid4().hex],
        )
        if connection.vendor != "postgresql":
            return
        cursor.execute(f"SELECT origin = customers_sync_origin() FROM {EPOCH_TABLE} WHERE id = 1")
        if cursor.fetchone()[0]:
            return
    from django.db import transaction

    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"SELECT origin = customers_sync_origin() FROM {EPOCH_TABLE} WHERE id = 1 FOR UPDATE")
        if cursor.fetchone()[0]:
            return  # another process re-based first
        cursor.execute("SELECT set_config(%s, 'on', true)", [REBASE_SETTING])
        cursor.execute("UPDATE customers_customer SET sync_stamp = 1 WHERE sync_stamp <> 1")
        cursor.execute(f"DELETE FROM {EXIT_TABLE}")
        cursor.execute(
            f"UPDATE {EPOCH_TABLE} SET epoch = %s, origin = customers_sync_origin(),"
            " scope_generation = scope_generation + 1, units_version = units_version + 1 WHERE id = 1",
            [uuid.uuid4().hex],
        )
