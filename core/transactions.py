"""After-commit callbacks that are asked for many times in one transaction."""

from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections, transaction


def on_commit_once(func: Callable[[], None], using: str = DEFAULT_DB_ALIAS) -> None:
    """`transaction.on_commit(func)`, unless `func` already waits for the same commit.

    A kick ("deliver now", "create the posts now") asks a worker to scan; one scan
    after a commit finds every row the transaction wrote, so a second kick is only a
    redundant broker message (a demo seeding or a large fan-out would queue hundreds).

    A waiting registration always stands for this one: a savepoint rolled back takes
    its callbacks out of the list at once (Django's savepoint_rollback), so what is
    still listed was asked in a savepoint released into this transaction or in one
    still open — and every open savepoint encloses this call, so any rollback that
    would drop the earlier callback drops this one too. Outside a transaction it runs
    at once, as on_commit does.
    """
    connection = connections[using]
    if connection.in_atomic_block and any(
        pending is func for _sids, pending, _robust in connection.run_on_commit
    ):
        return
    transaction.on_commit(func, using=using)
