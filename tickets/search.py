"""The order list's text filter (`q`): an order whose number or title contains the
term, or whose customer's name contains it or 户号 starts with it.

Those are four columns of two tables. As one OR no index answers them, and the
list, which reads each of its parts in its own order with a limit, walks that
order testing the OR row by row: a term that matches little (a name, a number)
read a prefecture's million orders joined to their customers, 4–8 s. So the
matches are found first, each column through its own index (pg_trgm and
`crm_bigrams` GIN indexes, tickets migration 0013; the customers' own), joined
by UNION ALL and cut at ORDER_MATCH_LIMIT; when they are that few, the list is
the list of those ids (one array parameter, `core.lookups.InValues`), ordered
in a moment. A term matching more, or of a single character, is common enough
that the list's own walk meets its matches soon, and it reads the plain OR.
Both give the same orders (tests/tickets/test_order_search.py).
"""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from core.lookups import InValues, contains_condition
from customers.models import Customer
from tickets.models import Ticket

# Past this many matches in the user's scope the term is common, and the list's
# walk in its own order meets a page of matches soon. Below it, listing the
# matches costs less than the walk (bench/order_search.py: 11,111 matches in a
# prefecture, 0.23 s listed against 1.6 s walked; a term every order holds is
# given up on after about 0.15 s).
ORDER_MATCH_LIMIT = 20_000
# No index reads a single character, and one character is common in any
# archive: such a term goes straight to the walk.
MIN_LISTED_CHARS = 2


@dataclass(frozen=True)
class OrderSearch:
    """What a term found among the orders a user sees.

    `ids`: the matching orders when there are at most ORDER_MATCH_LIMIT, else
    None (the list then filters by `condition`, the plain OR).
    """

    term: str
    ids: frozenset[int] | None

    @property
    def condition(self) -> Q:
        if self.ids is not None:
            return Q(InValues("pk", self.ids))
        return (
            Q(number__icontains=self.term)
            | Q(title__icontains=self.term)
            | Q(customer__name__icontains=self.term)
            | Q(customer__number__startswith=self.term)
        )

    @property
    def listed(self) -> bool:
        """The matches are few and listed by id: a list reads them whole rather than unit by unit."""
        return self.ids is not None


def order_matches(term: str, orders: QuerySet[Ticket]) -> QuerySet:
    """The query for the ids of `orders` (the user's scope) the term matches, at most
    ORDER_MATCH_LIMIT + 1 rows; an order found by two branches comes back twice."""
    orders = orders.order_by().select_related(None)
    # An order stays findable by its customer's name when the archive was deleted since.
    customers = Customer.all_objects.order_by()
    branches = [
        orders.filter(contains_condition("number", term)),
        orders.filter(contains_condition("title", term)),
        orders.filter(customer__in=customers.filter(contains_condition("name", term)).values("pk")),
        orders.filter(customer__in=customers.filter(number__startswith=term).values("pk")),
    ]
    first, *others = [branch.values_list("pk", flat=True) for branch in branches]
    return first.union(*others, all=True)[: ORDER_MATCH_LIMIT + 1]


def order_search(term: str, *, orders: QuerySet[Ticket]) -> OrderSearch:
    """Search `orders` (already scoped to the user) for `term`: one query, none for one character."""
    term = term.strip()
    if len(term) < MIN_LISTED_CHARS:
        return OrderSearch(term=term, ids=None)
    rows = list(order_matches(term, orders))
    ids = frozenset(rows)
    # The cut is decided on the rows: past the limit the rest was never read.
    return OrderSearch(term=term, ids=ids if len(rows) <= ORDER_MATCH_LIMIT else None)
