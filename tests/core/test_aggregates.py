"""core.aggregates.Percentile: percentile_cont on PostgreSQL, the same figure on SQLite."""

import pytest
from django.db.models import Q

from core.aggregates import Percentile, percentile
from core.models import IdempotentRequest
from tests.factories import UserFactory


def test_percentile_interpolates_like_percentile_cont():
    assert percentile([3, 6, 3], 0.9) == pytest.approx(5.4)
    assert percentile([1, 2, 3, 4], 0.5) == pytest.approx(2.5)
    assert percentile([7], 0.9) == 7
    assert percentile([], 0.9) is None


def test_a_fraction_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError):
        Percentile("status_code", 90)


@pytest.fixture
def responses(db):
    """Status codes of two users' remembered requests: 200 201 204 404 for one, 500 for the other."""
    first, second = UserFactory(), UserFactory()
    for n, (user, code) in enumerate([(first, 200), (first, 404), (first, 201), (first, 204), (second, 500)]):
        IdempotentRequest.objects.create(
            user=user, key=f"k{n}", method="POST", path="/api/", fingerprint="x", status_code=code
        )
    return first, second


def test_the_database_computes_the_same_percentiles_as_python(responses):
    codes = IdempotentRequest.objects.values_list("status_code", flat=True)
    figures = IdempotentRequest.objects.aggregate(
        median=Percentile("status_code", 0.5),
        p90=Percentile("status_code", 0.9),
        low=Percentile("status_code", 0.9, filter=Q(status_code__lt=300)),
        none=Percentile("status_code", 0.9, filter=Q(status_code__gt=900)),
    )
    assert figures["median"] == pytest.approx(percentile(list(codes), 0.5)) == 204
    assert figures["p90"] == pytest.approx(percentile(list(codes), 0.9))
    assert figures["low"] == pytest.approx(percentile([200, 201, 204], 0.9))
    assert figures["none"] is None


def test_each_group_gets_its_own_percentile(responses):
    first, second = responses
    rows = (
        IdempotentRequest.objects.values("user")
        .annotate(median=Percentile("status_code", 0.5))
        .order_by("user")
    )
    assert {row["user"]: row["median"] for row in rows} == {first.pk: 202.5, second.pk: 500}
