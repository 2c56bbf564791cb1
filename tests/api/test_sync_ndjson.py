"""The sync feed as one NDJSON stream: the same rows as the paged walk, checkpoints to resume from,
a trailer that says the stream is whole, and the feed's rules (scope, 410, 400) unchanged."""

import gzip
import json

import pytest

from customers import services
from customers.models import Customer
from tests.api.conftest import SYNC, walk
from tests.api_errors import field_messages

NDJSON = "application/x-ndjson"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def archive(make_customer, manager, colleague, org_tree) -> dict[str, Customer]:
    made = {f"own{n}": make_customer(by=manager, manager=manager) for n in range(4)}
    made["colleagues"] = make_customer(by=colleague, manager=colleague)
    made["foreign"] = make_customer(station=org_tree["other_station"])
    services.customer_soft_delete(customer=made["own3"], user=manager)
    # Moved to another county: out of the manager's scope, a tombstone with a reason.
    Customer.all_objects.filter(pk=made["own2"].pk).update(
        station=org_tree["other_station"], manager=None, district=None, line=None
    )
    return made


def lines(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == NDJSON
    body = b"".join(response.streaming_content)
    if response.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    assert body.endswith(b"\n")
    return [json.loads(line) for line in body.decode().splitlines()]


def parts(items: list[dict]) -> tuple[list[dict], list[str], dict | None]:
    """(rows, checkpoint cursors, trailer or None when the stream was cut short)."""
    rows = [item for item in items if "number" in item]
    marks = [item["next"] for item in items if set(item) == {"next"}]
    trailer = items[-1] if items and "has_more" in items[-1] else None
    return rows, marks, trailer


def stream(client, cursor: str = "", limit: int | None = None, **extra):
    params = {"cursor": cursor} | ({"limit": limit} if limit else {})
    return client.get(SYNC, params, HTTP_ACCEPT=NDJSON, **extra)


def test_the_stream_has_the_rows_of_the_paged_walk_and_its_last_cursor(api, manager, archive, settled):
    settled()
    client = api(manager)
    paged, last = walk(client, limit=2)

    rows, _marks, trailer = parts(lines(stream(client)))

    assert rows == paged
    assert {"deleted": True, "number": archive["own3"].number} in rows
    assert {"deleted": True, "number": archive["own2"].number, "reason": "out_of_scope"} in rows
    assert trailer == {
        "next": last,
        "has_more": False,
        "held_back": False,
        "held_back_since": None,
        "rows": len(paged),
    }
    # Nothing new since: the trailer's cursor gives an empty stream.
    assert parts(lines(stream(client, trailer["next"])))[0] == []


def test_format_ndjson_asks_for_the_stream_too(api, manager, archive):
    client = api(manager)
    by_header = lines(stream(client))
    by_parameter = lines(client.get(SYNC, {"format": "ndjson"}))
    assert by_header == by_parameter
    assert client.get(SYNC)["Content-Type"] == "application/json", "JSON pages stay the default"


def test_other_scopes_rows_are_absent(api, outsider, archive):
    rows, _marks, trailer = parts(lines(stream(api(outsider))))

    # The foreign archive and the one moved into the outsider's county; none of the manager's.
    assert sorted(row["number"] for row in rows) == sorted(
        [archive["own2"].number, archive["foreign"].number]
    )
    assert all(not row["deleted"] for row in rows)
    assert trailer["rows"] == 2


def test_a_checkpoint_after_every_limit_rows_resumes_a_broken_stream(api, manager, archive, settled):
    settled()
    client = api(manager)
    items = lines(stream(client, limit=2))
    rows, marks, _trailer = parts(items)
    assert len(rows) == 5 and len(marks) == 2
    assert [set(item) for item in items[2:3]] == [{"next"}], "the first checkpoint follows the first 2 rows"

    # Cut off after the first checkpoint and a row: resume from the checkpoint.
    resumed, _marks, trailer = parts(lines(stream(client, marks[0], limit=2)))

    assert resumed == rows[2:]
    assert trailer["rows"] == 3


def test_cursor_errors_are_json_as_in_the_paged_feed(api, manager, colleague, archive):
    client = api(manager)
    foreign_cursor = parts(lines(stream(api(colleague))))[2]["next"]

    forged = stream(client, "bm9wZQ")
    expired = stream(client, foreign_cursor)
    anonymous = stream(api())

    assert forged.status_code == 400 and forged["Content-Type"] == "application/json"
    assert "cursor" in field_messages(forged)
    assert expired.status_code == 410
    assert (expired.json()["code"], expired.json()["reason"]) == ("cursor_expired", "user")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"


def test_token_clients_get_it_gzipped(api, manager, archive):
    client = api(manager)

    zipped = stream(client, HTTP_ACCEPT_ENCODING="gzip")

    assert zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"]
    assert lines(zipped) == lines(stream(client))


def test_a_session_is_never_gzipped(client, manager, archive):
    client.force_login(manager)

    response = stream(client, HTTP_ACCEPT_ENCODING="gzip")

    assert not response.has_header("Content-Encoding")
    assert len(parts(lines(response))[0]) == 5


def test_queries_grow_with_checkpoints_not_rows(
    api, manager, archive, make_customer, settled, django_assert_max_num_queries
):
    client = api(manager)
    for _ in range(6):
        make_customer(by=manager, manager=manager)
    settled()

    with django_assert_max_num_queries(20) as counted:
        rows = parts(lines(stream(client, limit=1000)))[0]

    assert len(rows) == 11
    assert len(counted.captured_queries) <= 20


def test_small_chunks_give_the_same_lines(api, manager, archive, settled, monkeypatch):
    from customers.api import sync

    settled()
    client = api(manager)
    whole = lines(stream(client, limit=2))

    monkeypatch.setattr(sync, "STREAM_CHUNK", 2)
    in_chunks = lines(stream(client, limit=2))
    monkeypatch.setattr(sync, "STREAM_CHUNK", 3)
    uneven = lines(stream(client, limit=2))

    assert in_chunks == uneven == whole


def test_an_exit_between_full_pages_is_neither_lost_nor_repeated(
    api, manager, archive, make_customer, settled, monkeypatch
):
    from customers.api import sync

    for _ in range(3):
        make_customer(by=manager, manager=manager)  # after the exit of own2
    settled()
    client = api(manager)
    whole, _last = walk(client, limit=1000)
    exit_row = {"deleted": True, "number": archive["own2"].number, "reason": "out_of_scope"}
    assert exit_row in whole and whole[-1] != exit_row, "the exit lies between customer rows"

    for limit in (1, 2, 3):
        assert walk(client, limit=limit)[0] == whole
    monkeypatch.setattr(sync, "STREAM_CHUNK", 1)
    assert parts(lines(stream(client, limit=1)))[0] == whole


def test_a_page_statement_is_compiled_once_and_takes_each_calls_position_and_zone(manager, archive):
    from django.utils import timezone

    from customers.api import sync

    sync._STATEMENTS.clear()
    state = sync.feed_state()
    first_sql, first = sync._page_statement(
        user=manager, cursor=sync.SyncCursor(5000001, 7000001), limit=10, state=state
    )
    with timezone.override("Asia/Tokyo"):
        sql, params = sync._page_statement(
            user=manager, cursor=sync.SyncCursor(8000001, 9000001), limit=10, state=state
        )

    assert sql == first_sql and len(sync._STATEMENTS) == 1
    assert first.count(5000001) >= 2 and first.count(7000001) >= 2, (
        "the position, in the page and in the exits"
    )
    assert (
        params.count(8000001) == first.count(5000001) and "Asia/Tokyo" in params and "Asia/Tokyo" not in first
    )
    assert not set(sync._STAND_INS) & {p for p in params if isinstance(p, int)}
    assert state.bound is None or state.bound in params
    # Another page size, or the user in another unit, is another statement.
    sync._page_statement(user=manager, cursor=sync.SyncCursor(), limit=11, state=state)
    manager.org_unit = archive["foreign"].station
    sync._page_statement(user=manager, cursor=sync.SyncCursor(), limit=10, state=state)
    assert len(sync._STATEMENTS) == 3
