"""Which work order a contact log may name: asked of the tickets app, which lies above customers.

customers may not import tickets (the layers), so tickets registers its
lookup here when the app registry is ready (tickets.apps). Until one is
registered no number is known, so none is accepted: a contact log never
names an order nobody has checked.
"""

from collections.abc import Callable

from accounts.models import User

# (user, number as typed) -> the order's number as stored, when it exists and the user may see it.
TicketLookup = Callable[[User, str], str | None]

_lookup: TicketLookup | None = None


def register_ticket_lookup(lookup: TicketLookup) -> None:
    global _lookup
    _lookup = lookup


def visible_ticket_number(*, user: User, number: str) -> str | None:
    """The stored number of the order `number` names if `user` may see it.

    None for an unknown order and one out of the user's scope alike.
    """
    if _lookup is None:
        return None
    return _lookup(user, number)
