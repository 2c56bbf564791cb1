"""Load test: account managers, supervisors of a station, a county and the prefecture, and
integration clients that sync the archive, against a running server.

    make load                       # seeds, starts gunicorn, runs this headless, records the summary
    LOAD_PEOPLE_FILE=bench/results/load_users-crm_bench.json \
        locust -f bench/load/locustfile.py --host http://127.0.0.1:8055

The people come from the file `manage.py seed_scale` writes for the database
it seeds (bench.common.load_users_file; bench/load/run.py names the one of
the database it serves in LOAD_PEOPLE_FILE). The server runs as in production (DEBUG off) behind
what would be a TLS proxy: every request says `X-Forwarded-Proto: https`
and the client keeps the session's Secure cookies over plain HTTP.
Requests are named by page, so the statistics read per page.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from pathlib import Path

import gevent
from locust import HttpUser, between, events, task

USERS_FILE = Path(
    os.environ.get(
        "LOAD_PEOPLE_FILE", Path(__file__).resolve().parents[1] / "results" / "load_users-crm_bench.json"
    )
)
PEOPLE = json.loads(USERS_FILE.read_text()) if USERS_FILE.exists() else None
SEARCH_TERMS = ["客户1", "客户2", "9000000", "某县某镇某路1", "户主"]
# Milliseconds from asking for a large export to having its file, one per export;
# written to EXPORT_WAITS_FILE when the test stops (bench/load/run.py reads it).
EXPORT_WAITS: list[int] = []
EXPORT_WAIT_SECONDS = 120
EXPORT_WAITS_FILE = Path(
    os.environ.get(
        "LOAD_EXPORT_WAITS_FILE", Path(__file__).resolve().parents[1] / "results" / "load_exports.json"
    )
)


@events.test_stop.add_listener
def write_export_waits(**kwargs) -> None:
    EXPORT_WAITS_FILE.write_text(json.dumps(EXPORT_WAITS))


def people() -> dict:
    if PEOPLE is None:
        raise RuntimeError(f"{USERS_FILE} is missing: run `manage.py seed_scale --scale small --wipe` first")
    return PEOPLE


def keep_secure_cookies_over_http(session) -> None:
    """The proxy in front of the server would speak HTTPS; here the client talks to
    it directly, so the session's Secure cookies (session, CSRF) are kept
    sendable after every response."""
    send = session.request

    def request(*args, **kwargs):
        response = send(*args, **kwargs)
        for cookie in session.cookies:
            cookie.secure = False
        return response

    session.request = request


class StaffUser(HttpUser):
    abstract = True

    def on_start(self) -> None:
        keep_secure_cookies_over_http(self.client)
        self.client.headers.update({"X-Forwarded-Proto": "https", "Referer": f"{self._origin()}/"})
        self.username = self.pick_username()
        self.login()

    def _origin(self) -> str:
        # CSRF checks the Referer of a secure request against the host.
        return "https://" + self.host.split("://", 1)[-1].rstrip("/")

    def pick_username(self) -> str:
        raise NotImplementedError

    def csrf(self) -> str:
        return self.client.cookies.get("csrftoken", "")

    def login(self) -> None:
        self.client.get("/accounts/login/", name="login page")
        with self.client.post(
            "/accounts/login/",
            data={
                "username": self.username,
                "password": people()["password"],
                "csrfmiddlewaretoken": self.csrf(),
            },
            allow_redirects=False,
            name="login",
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login as {self.username} answered {response.status_code}")

    def page(self, path: str, name: str, **kwargs):
        """GET a page; anything but 200 counts as an error."""
        with self.client.get(path, name=name, catch_response=True, **kwargs) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
            elif "/accounts/login/" in response.url:
                response.failure("sent to the login page")
            return response

    def form_post(self, path: str, name: str, data: dict):
        """POST a form as the browser does; a redirect (not to the login page) is success,
        a page with form errors is not."""
        with self.client.post(
            path,
            data={**data, "csrfmiddlewaretoken": self.csrf()},
            name=name,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302 or "/accounts/login/" in response.headers.get("Location", ""):
                response.failure(f"{response.status_code}")
            return response


class AccountManager(StaffUser):
    weight = 6
    wait_time = between(1, 4)

    def pick_username(self) -> str:
        person = random.choice(people()["managers"])
        self.customers = person["customers"]
        self.orders = person["orders"]
        self.groups = person.get("groups", [])
        return person["username"]

    @task(4)
    def workbench(self):
        self.page("/", "manager: workbench")

    @task(3)
    def customer_search(self):
        self.page("/customers/", "manager: customer search", params={"q": random.choice(SEARCH_TERMS)})

    @task(1)
    def customer_list(self):
        self.page("/customers/", "manager: customer list")

    @task(4)
    def customer_360(self):
        number = random.choice(self.customers)
        self.page(f"/customers/{number}/", "manager: customer 360")
        self.page(f"/customers/{number}/timeline/", "manager: customer timeline")

    @task(2)
    def log_contact(self):
        number = random.choice(self.customers)
        self.form_post(
            f"/customers/{number}/interactions/new/",
            "manager: log a contact",
            {
                "channel": "phone",
                "direction": "outbound",
                "occurred_at": "2026-11-20T10:30",
                "mood": "calm",
                "summary": "电话回访，客户对供电情况满意。",
            },
        )

    @task(2)
    def order_actions(self):
        if not self.orders:
            return
        number = random.choice(self.orders)
        self.page(f"/tickets/{number}/", "manager: order detail")
        # Signed orders start; ones already started come back with a message (a redirect too).
        self.form_post(f"/tickets/{number}/start/", "manager: order action (start)", {})

    @task(2)
    def order_list(self):
        self.page("/tickets/", "manager: order list", params=random.choice(ORDER_FILTERS))

    @task(1)
    def order_search(self):
        """Look an order up as a caller names it: its number, or the customer's 户号."""
        term = random.choice([*self.orders, *self.customers])
        self.page("/tickets/", "manager: order search", params={"q": term})

    @task(2)
    def groups(self):
        self.page("/groups/", "manager: group list")
        if self.groups:
            self.page(f"/groups/{random.choice(self.groups)}/", "manager: group detail")

    @task(1)
    def outages(self):
        self.page("/outages/", "manager: outage list")

    @task(1)
    def export(self):
        """Export the station's customers as a user does: a large list answers with the export's
        page, which refreshes itself each second until the file is written, then the download.
        How long the user waited for the file is recorded apart (EXPORT_WAITS), not as a page."""
        started = time.monotonic()
        with self.client.get(
            "/customers/export.xlsx",
            name="manager: customer export",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                return  # small enough to be written in the request
            location = response.headers.get("Location", "")
            if response.status_code != 302 or "/customers/exports/" not in location:
                response.failure(f"{response.status_code} {location}")
                return
        for _ in range(EXPORT_WAIT_SECONDS):
            gevent.sleep(1)
            progress = self.page(location, "manager: export progress", headers={"HX-Request": "true"})
            if "/download/" in progress.text:
                break
        else:
            return
        download = f"{location}download/"
        if self.page(download, "manager: export download").status_code == 200:
            EXPORT_WAITS.append(round((time.monotonic() - started) * 1000))


ORDER_FILTERS = [{}, {"status": "signed"}, {"deadline": "overdue"}, {"kind": "complaint"}]


class Supervisor(StaffUser):
    """监控小组 at one level of the tree; requests are named by level, so each persona reads apart."""

    abstract = True
    level = ""
    wait_time = between(2, 6)

    def pick_username(self) -> str:
        person = random.choice([p for p in people()["supervisors"] if p["level"] == self.level])
        self.orders, self.groups, self.outages = person["orders"], person["groups"], person["outages"]
        return person["username"]

    def named(self, page: str) -> str:
        return f"{self.level}: {page}"

    @task(3)
    def dashboard(self):
        period = random.choice(["today", "7d", "30d"])
        self.page("/dashboard/", self.named("dashboard"), params={"period": period})

    @task(3)
    def order_list(self):
        self.page("/tickets/", self.named("order list"), params=random.choice(ORDER_FILTERS))

    @task(1)
    def order_search(self):
        """Look an order up by its number or a part of it, as the 95598 hotline reads it out."""
        if self.orders:
            number = random.choice(self.orders)
            term = number if random.random() < 0.5 else number[-7:]
            self.page("/tickets/", self.named("order search"), params={"q": term})

    @task(2)
    def order_detail(self):
        if self.orders:
            self.page(f"/tickets/{random.choice(self.orders)}/", self.named("order detail"))

    @task(2)
    def customers(self):
        self.page("/customers/", self.named("customer list"))
        self.page("/customers/", self.named("customer search"), params={"q": random.choice(SEARCH_TERMS)})

    @task(2)
    def groups(self):
        self.page("/groups/", self.named("group list"))
        if self.groups:
            self.page(f"/groups/{random.choice(self.groups)}/", self.named("group detail"))

    @task(1)
    def outages(self):
        self.page("/outages/", self.named("outage list"))
        if self.outages:
            self.page(f"/outages/{random.choice(self.outages)}/", self.named("outage page"))

    @task(1)
    def export(self):
        self.page("/dashboard/export.xlsx", self.named("dashboard export"), params={"period": "7d"})


class StationSupervisor(Supervisor):
    weight = 1
    level = "station"


class CountySupervisor(Supervisor):
    weight = 1
    level = "county"


class PrefectureSupervisor(Supervisor):
    weight = 1
    level = "prefecture"


class SyncClient(HttpUser):
    """A system that mirrors the archive: walks the feed page by page, then writes back changes."""

    weight = 1
    wait_time = between(0.5, 2)

    def on_start(self) -> None:
        client = random.choice(people()["sync_clients"])
        self.client.headers.update(
            {"Authorization": f"Token {client['token']}", "X-Forwarded-Proto": "https"}
        )
        self.cursor = ""
        self.seen: list[str] = []

    @task(5)
    def sync_page(self):
        params = {"cursor": self.cursor} if self.cursor else {}
        with self.client.get(
            "/api/v1/customers/sync/", params=params, name="integration: sync page", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
                return
            body = response.json()
            self.seen = [row["number"] for row in body["results"][:200] if row.get("number")] or self.seen
            # At the end of the feed, start again from the beginning (a fresh mirror).
            self.cursor = body["next"] if body["has_more"] else ""

    @task(1)
    def bulk_upsert(self):
        if not self.seen:
            return
        items = [
            {"number": number, "notes": f"同步备注 {random.randint(1, 10**6)}"}
            for number in random.sample(self.seen, min(20, len(self.seen)))
        ]
        with self.client.post(
            "/api/v1/customers/bulk/",
            json=items,
            headers={"Idempotency-Key": uuid.uuid4().hex},
            name="integration: bulk upsert",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
            elif response.json().get("failed"):
                response.failure(f"{response.json()['failed']} items failed")
