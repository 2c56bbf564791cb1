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
in a moment. A term matching more, or held by many of a sample of the scope's
orders, or of a single character, is common enough that the list's own walk
meets its matches soon, and it reads the plain OR.
Both give the same orders (tests/tickets/test_order_search.py).
"""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from core.lookups import AnyOf, InValues, contains_condition
from customers.models import Customer
from tickets.models import Ticket

# Past this many matches in the user's scope the term is common, and the list's
# walk in its own order meets a page of matches soon. Below it, listing the
# matches costs less than the walk (bench/order_search.py: 11,111 matches in a
# prefecture, 0.16-0.18 s listed against 1.2-1.6 s walked).
ORDER_MATCH_LIMIT = 20_000
# No index reads a single character, and one character is common in any
# archive: such a term goes straight to the walk.
MIN_LISTED_CHARS = 2
# Listing a common term's matches reads up to ORDER_MATCH_LIMIT rows for nothing
# (0.15-0.2 s), so SAMPLE_SIZE of the scope's orders are tested first: a term
# that at least COMMON_IN_SAMPLE of them hold (5 %) goes to the walk, which meets
# a page of such matches within a few hundred rows a part.
SAMPLE_SIZE = 1000
COMMON_IN_SAMPLE = 50


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
        return plain_condition(self.term)

    @property
    def listed(self) -> bool:
        """The matches are few and listed by id: a list reads them whole rather than unit by unit."""
        return self.ids is not None


def plain_condition(term: str) -> Q:
    """What the filter means, as one condition on the orders."""
    return (
        Q(number__icontains=term)
        | Q(title__icontains=term)
        | Q(customer__name__icontains=term)
        | Q(customer__number__startswith=term)
    )


def is_common(term: str, orders: QuerySet[Ticket]) -> bool:
    """Whether at least COMMON_IN_SAMPLE of SAMPLE_SIZE of the scope's orders match:
    one query, which stops at that many."""
    # Any of the scope's orders, as the database finds them first: ordered by id, a sparse
    # scope (an account manager's own and their customers') would walk the whole table.
    some = orders.order_by().values("pk")[:SAMPLE_SIZE]
    # The sample as an array (`AnyOf`), read once: as `IN (subquery)` the planner hoped the
    # cut at COMMON_IN_SAMPLE would come early and merged it with a walk of every id.
    sample = Ticket.objects.filter(AnyOf("pk", some)).filter(plain_condition(term))
    return sample.values("pk")[:COMMON_IN_SAMPLE].count() >= COMMON_IN_SAMPLE


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
    """Search `orders` (already scoped to the user) for `term`: two queries, one for a
    common term, none for one character."""
    term = term.strip()
    if len(term) < MIN_LISTED_CHARS or is_common(term, orders):
        return OrderSearch(term=term, ids=None)
    rows = list(order_matches(term, orders))
    ids = frozenset(rows)
    # The cut is decided on the rows: past the limit the rest was never read.
    return OrderSearch(term=term, ids=ids if len(rows) <= ORDER_MATCH_LIMIT else None)
