"""After-commit callbacks that are asked for many times in one transaction."""

from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections, transaction


def on_commit_once(func: Callable[[], None], using: str = DEFAULT_DB_ALIAS) -> None:
    """`transaction.on_commit(func)`, unless `func` already waits for the same commit.

    A kick ("deliver now", "create the posts now") asks a worker to scan; one scan
    after a commit finds every row the transaction wrote, so a second kick is only a
    redundant broker message (a demo seeding or a large fan-out would queue hundreds).
    The earlier registration counts only when it survives whenever this one would:
    registered in this savepoint or an enclosing one, never in a savepoint that may
    still roll back alone. Outside a transaction it runs at once, as on_commit does.
    """
    connection = connections[using]
    if connection.in_atomic_block:
        current = set(connection.savepoint_ids)
        for sids, pending, _robust in connection.run_on_commit:
            if pending is func and sids <= current:
                return
    transaction.on_commit(func, using=using)
