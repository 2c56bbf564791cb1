"""The dashboard's charts are laid out the same whatever order the database returns their rows in."""

from tickets.models import Category
from workspace.dashboard.presentation import category_chart


def test_categories_with_equal_counts_keep_the_categories_order():
    counts = {(Category.OTHER,): 2, (Category.OUTAGE,): 2, (Category.METERING,): 5, (Category.ATTITUDE,): 2}
    expected = ["metering", "attitude", "outage", "other"]
    assert [link.rsplit("=", 1)[1] for link in category_chart(counts)["links"]] == expected
    reversed_rows = dict(reversed(list(counts.items())))
    assert category_chart(reversed_rows) == category_chart(counts)
