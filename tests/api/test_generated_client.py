"""A client generated from /api/schema/ by openapi-python-client works against a live server.

The schema is fetched from the running server, the client generated into a
temporary directory and imported from there (no install step needed: the
generated package needs only httpx, attrs and python-dateutil). The walk
covers what an integrating system does: filtered lists, conditional reads and
writes, the full sync feed with tombstones, an idempotent bulk upsert, a work
order and its steps, an outage.
"""

import importlib
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token

from customers import services as customer_services
from tests.customers.conftest import next_number

PACKAGE = "grid_crm_api_client"


@pytest.fixture(scope="module")
def generated(live_server, tmp_path_factory, django_db_blocker):
    """(the generated package, seconds taken to generate it)."""
    # The live server's thread may touch the database (sessions, axes) before any test has opened it.
    with django_db_blocker.unblock(), override_settings(API_DOCS_PUBLIC=True):
        response = requests.get(f"{live_server.url}/api/schema/", params={"format": "json"}, timeout=60)
    assert response.status_code == 200, response.text[:500]
    schema = response.json()
    assert schema["info"]["title"].isascii()
    workdir = tmp_path_factory.mktemp("client")
    (workdir / "schema.json").write_text(json.dumps(schema))
    bin_dir = Path(sys.executable).parent
    started = time.monotonic()
    result = subprocess.run(
        [
            bin_dir / "openapi-python-client",
            "generate",
            "--path",
            "schema.json",
            "--meta",
            "none",
            "--output-path",
            PACKAGE,
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        # The generator formats its output with ruff, found on PATH.
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    compiled = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", PACKAGE], cwd=workdir, capture_output=True
    )
    assert compiled.returncode == 0, compiled.stdout
    sys.path.insert(0, str(workdir))
    try:
        yield importlib.import_module(PACKAGE), seconds
    finally:
        sys.path.remove(str(workdir))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _module(package, name):
    return importlib.import_module(f"{package.__name__}.{name}")


@pytest.mark.django_db(transaction=True)
def test_the_generated_client_walks_the_api(
    generated, live_server, manager, grid, org_tree, make_customer, settled
):
    package, seconds = generated
    assert seconds < 60
    api = lambda name: _module(package, f"api.{name}")  # noqa: E731
    models = _module(package, "models")
    client = package.AuthenticatedClient(
        base_url=live_server.url, token=Token.objects.create(user=manager).key, prefix="Token"
    )
    first = make_customer(by=manager, manager=manager, name="杨丽")
    second = make_customer(by=manager, manager=manager, name="王芳")
    make_customer(by=manager, manager=manager, name="不相干")

    # A list filtered by two values of one filter (sent as ?number=A&number=B), ordered by number.
    listed = api("customers.customers_list").sync_detailed(
        client=client, number=[first.number, second.number], ordering="number"
    )
    assert listed.status_code == 200, listed.content
    assert [row.number for row in listed.parsed.results] == sorted([first.number, second.number])
    assert listed.headers["content-encoding"] == "gzip", "a token client gets gzip"
    assert listed.headers["etag"].startswith('W/"')
    assert "ratelimit" in listed.headers and "ratelimit-policy" in listed.headers
    again = api("customers.customers_list").sync_detailed(
        client=client.with_headers({"If-None-Match": listed.headers["etag"]}),
        number=[first.number, second.number],
        ordering="number",
    )
    assert again.status_code == 304

    # Retrieve with an ETag, then a conditional PATCH: the current ETag wins, a stale one gets 412.
    retrieve = api("customers.customers_retrieve")
    read = retrieve.sync_detailed(first.number, client=client)
    assert read.status_code == 200 and read.parsed.name == "杨丽"
    etag = read.headers["etag"]
    assert retrieve.sync_detailed(first.number, client=client, if_none_match=etag).status_code == 304
    patch = api("customers.customers_partial_update")
    changed = patch.sync_detailed(
        first.number, client=client, body=models.PatchedCustomerWrite(name="杨丽（改）"), if_match=etag
    )
    assert changed.status_code == 200, changed.content
    assert changed.parsed.name == "杨丽（改）"
    stale = patch.sync_detailed(
        first.number, client=client, body=models.PatchedCustomerWrite(name="迟到的修改"), if_match=etag
    )
    assert stale.status_code == 412
    assert stale.parsed.code == "precondition_failed"
    # A 400 parses too: its code, and each field's errors as {message, code}.
    invalid = patch.sync_detailed(first.number, client=client, body=models.PatchedCustomerWrite(name=" "))
    assert invalid.status_code == 400
    assert invalid.parsed.code == models.ValidationErrorCodeEnum.VALIDATION_ERROR
    assert [error.code for error in invalid.parsed.errors["name"]] == ["blank"]

    # The full sync walk, a page at a time: live rows and a tombstone, each as its own type.
    customer_services.customer_soft_delete_if_unchanged(customer=second, user=manager, expected_versions=None)
    settled()  # PostgreSQL: the feed shows a change once every older transaction has ended
    sync = api("customers.customers_sync")
    rows, cursor = [], ""
    for _page in range(20):
        page = sync.sync_detailed(client=client, cursor=cursor, limit=1)
        assert page.status_code == 200, page.content
        rows.extend(page.parsed.results)
        cursor = page.parsed.next_
        if not page.parsed.has_more:
            break
    by_number = {row.number: row for row in rows}
    assert isinstance(by_number[first.number], models.SyncCustomer)
    assert by_number[first.number].name == "杨丽（改）"
    assert isinstance(by_number[second.number], models.SyncTombstone)

    # Bulk upsert with an Idempotency-Key: the retry is answered from the first response.
    bulk = api("customers.customers_bulk_upsert")
    item = models.CustomerWrite(number=next_number(), name="批量客户", station=org_tree["station"].code)
    done = bulk.sync_detailed(client=client, body=[item], idempotency_key="bulk-1")
    assert done.status_code == 200, done.content
    assert [outcome.status for outcome in done.parsed.results] == [models.BulkOutcomeStatusEnum.CREATED]
    replay = bulk.sync_detailed(client=client, body=[item], idempotency_key="bulk-1")
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.parsed.results[0].status == models.BulkOutcomeStatusEnum.CREATED

    # A work order, dispatched to the manager, who signs for it and starts (If-Match each time).
    created = api("tickets.tickets_create").sync_detailed(
        client=client,
        body=models.TicketCreate(
            customer=first.number,
            kind=models.TicketKindEnum.REPAIR,
            title="家中停电",
            description="客户反映家中无电。",
            urgency=models.UrgencyEnum.URGENT,
            assignee=manager.username,
        ),
    )
    assert created.status_code == 201, created.content
    ticket = created.parsed
    assert (ticket.status, ticket.urgency) == (models.TicketStatusEnum.DISPATCHED, models.UrgencyEnum.URGENT)
    accepted = api("tickets.tickets_accept_create").sync_detailed(
        ticket.number, client=client, if_match=created.headers["etag"]
    )
    assert accepted.status_code == 200, accepted.content
    assert accepted.parsed.status == models.TicketStatusEnum.SIGNED
    stale_step = api("tickets.tickets_start_create").sync_detailed(
        ticket.number, client=client, if_match=created.headers["etag"]
    )
    assert stale_step.status_code == 412 and stale_step.parsed.code == "precondition_failed"
    started = api("tickets.tickets_start_create").sync_detailed(
        ticket.number, client=client, if_match=accepted.headers["etag"]
    )
    assert started.status_code == 200, started.content
    assert started.parsed.status == models.TicketStatusEnum.IN_PROGRESS

    # An outage over a line of the manager's station.
    start = timezone.now() + timedelta(days=10)
    outage = api("outages.outages_create").sync_detailed(
        client=client,
        body=models.OutageCreate(
            kind=models.OutageKindEnum.PLANNED,
            reason="10kV永乐线检修",
            lines=[grid["line"].code],
            planned_start=start,
            planned_end=start + timedelta(hours=8),
        ),
    )
    assert outage.status_code == 201, outage.content
    assert outage.parsed.kind.code == models.OutageKindEnum.PLANNED
