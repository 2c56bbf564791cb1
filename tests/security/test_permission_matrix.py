"""Who may do what, route by route, generated from the URL configuration.

Every route of the URLconf must appear in MATRIX (or in SKIPPED, with the
reason); a new route without an entry fails `test_every_route_is_in_the_matrix`
by name. Each probe is one request per persona against objects of 雷山供电所,
the manager's station, each in a savepoint that is rolled back, so a write by
one persona never changes what the next one meets.

An expectation is six letters, one per persona in PERSONAS order:
  L  not signed in: a page redirects to the login page, the API answers 401
  A  allowed past the permission gate (any answer but 401/403/404 or a login
     redirect: a page, a redirect after the write, a form or API validation error)
  F  403: signed in, in scope, but the role may not do this
  N  404: out of scope (or not the user's own row): the object does not exist for them
A probe with a body names objects of 雷山 in it (a create for 杨丽's archive);
there the answer itself counts:
  C  carried out (2xx, or a redirect after the write)
  R  refused (400, 403 or 404): nothing written for an object out of scope
"""

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from PIL import Image

from customers.models import ExportJob, ImportJob, Visit
from customers.visits.services import visit_schedule
from groups.models import BroadcastTopic, GroupKind, ReplyCategory, UnlinkedMember
from groups.services.broadcasts import broadcast_create
from groups.services.groups import group_create
from groups.services.members import membership_add_contact
from groups.services.messages import message_post
from groups.services.reply_templates import reply_template_create
from outages import services as outage_services
from outages.models import OutageKind
from reach.models import CallState, Channel, ReachNotice, ReachRecord, Reason, State
from tests.factories import ContactFactory, CustomerFactory, DistrictFactory, LineFactory, NotificationFactory
from tickets import services as ticket_services
from tickets.defaults import seed_default_policies
from tickets.models import Kind, SlaPolicy

PERSONAS = ("anonymous", "manager", "colleague", "supervisor", "outsider", "admin_user")
LOGIN_PATH = "/accounts/login/"


@dataclass(frozen=True)
class Probe:
    method: str
    expect: str
    # URL keyword -> "object.attribute" in the world fixture, e.g. {"number": "customer.number"}.
    kwargs: dict[str, str] = field(default_factory=dict)
    # world -> request body naming objects of 雷山; the answer is then C or R.
    body: Callable[[dict], dict] | None = None
    # For a catch-all route that reverse() cannot name a real path for.
    url: str = ""

    @property
    def letters(self) -> str:
        letters = self.expect.replace(" ", "")
        allowed = set("LCR") if self.body else set("LAFN")
        assert len(letters) == len(PERSONAS) and set(letters) <= allowed, self.expect
        return letters


def get(expect: str, **kwargs: str) -> Probe:
    return Probe("GET", expect, kwargs)


def post(expect: str, **kwargs: str) -> Probe:
    return Probe("POST", expect, kwargs)


def create(expect: str, body: Callable[[dict], dict]) -> Probe:
    return Probe("POST", expect, {}, body)


def put(expect: str, **kwargs: str) -> Probe:
    return Probe("PUT", expect, kwargs)


def patch(expect: str, **kwargs: str) -> Probe:
    return Probe("PATCH", expect, kwargs)


def delete(expect: str, **kwargs: str) -> Probe:
    return Probe("DELETE", expect, kwargs)


CUSTOMER = {"number": "customer.number"}
TICKET = {"number": "ticket.number"}
GROUP = {"pk": "group.pk"}
OUTAGE = {"pk": "outage.pk"}
VISIT = {"pk": "visit.pk"}
API_GROUP = {"group_pk": "group.pk"}

#             anonymous manager colleague supervisor outsider admin
EVERYONE = "L A A A A A"  # any signed-in user; lists show only what is in scope
IN_SCOPE = "L A A A N A"  # the manager's unit and the county above it
MANAGES = "L A F A N A"  # in scope, but only the owner, a supervisor or an administrator may
SUPERVISES = "L F F A N A"  # supervisors' steps (dispatch, urge) on orders in their subtree
OWN_ONLY = "L A N N N A"  # rows of one user (an import file); administrators see all
CREATOR_ONLY = "L A N N N N"  # a file written in one user's scope (a large export): nobody else
FOR_LEISHAN = "L C C C R C"  # a create naming 雷山's objects: refused to the outsider only


def _in_hours(hours: int) -> str:
    return (timezone.now() + timedelta(hours=hours)).isoformat()


SKIPPED = {
    "wecom_toolbar_signin": (
        "starts WeCom's OAuth2 sign-in: public by design (it signs nobody in), "
        "tested in tests/workspace/test_toolbar.py"
    ),
    "wecom_toolbar_oauth": (
        "WeCom's OAuth2 return: public by design, signs in only the user bound to the WeCom member "
        "the one-time code names (bad state 400, bad code or unbound member 403), "
        "tested in tests/workspace/test_toolbar.py"
    ),
    "healthz": (
        "liveness probe for the load balancer: public by design, tested in tests/workspace/test_healthz.py"
    ),
    "set_language": "Django's i18n view: public by design, changes only the visitor's own language",
    "admin:*": "Django admin: staff-only by Django itself (is_staff), not part of the application's scoping",
    "media": "uploaded files are served by the web server in production and only with DEBUG in development",
    "wecom:callback": (
        "WeCom's callback URL: no session by design, every request is signed and encrypted by WeCom "
        "(bad signature 403, replay or broken XML 400), tested in tests/wecom/test_callback.py"
    ),
    "tickets:survey": (
        "the customer's satisfaction survey: no login by design, the signed single-use token is the key "
        "(forged 404, expired or used 410, rate-limited 429); tested in tests/tickets/test_survey.py"
    ),
    "notifications:sms_receipts": (
        "SMS providers' delivery receipts: no user, authenticated by SMS_RECEIPT_TOKEN; "
        "tested in tests/notifications/test_sms_receipts.py"
    ),
}

MATRIX: dict[str, list[Probe]] = {
    # --- Cross-app pages ---------------------------------------------------------
    "home": [get(EVERYONE)],
    "workbench_section": [get(EVERYONE, section="'orders'")],
    "workbench_sign": [post(IN_SCOPE, **TICKET)],
    # The monitoring dashboard is for supervisors and administrators.
    "dashboard": [get("L F F A F A")],
    "dashboard_export": [get("L F F A F A")],
    "search": [get(EVERYONE)],
    # Operations: administrators only, unknown to everyone else; /metrics only with its token or
    # from an allowed address (none set here), so a session never opens it.
    "ops": [get("L N N N N A")],
    "ops_health": [get("N N N N N A")],
    "metrics": [get("N N N N N N")],
    "customer_timeline": [get(IN_SCOPE, **CUSTOMER)],
    # --- Accounts ----------------------------------------------------------------
    "accounts:login": [get("A A A A A A")],
    # Everyone, signed in or not, ends on the login page (LOGOUT_REDIRECT_URL).
    "accounts:logout": [post("L L L L L L")],
    "accounts:password_change": [get(EVERYONE), post(EVERYONE)],
    "accounts:password_change_done": [get(EVERYONE)],
    # --- Customers ---------------------------------------------------------------
    "customers:list": [get(EVERYONE)],
    "customers:create": [get(EVERYONE), post(EVERYONE)],
    "customers:export": [get(EVERYONE)],
    "customers:detail": [get(IN_SCOPE, **CUSTOMER)],
    "customers:edit": [get(IN_SCOPE, **CUSTOMER), post(IN_SCOPE, **CUSTOMER)],
    "customers:verify": [post(IN_SCOPE, **CUSTOMER)],
    "customers:delete": [post(MANAGES, **CUSTOMER)],
    "customers:contact_create": [get(IN_SCOPE, **CUSTOMER), post(IN_SCOPE, **CUSTOMER)],
    "customers:contact_edit": [
        get(IN_SCOPE, **CUSTOMER, pk="contact.pk"),
        post(IN_SCOPE, **CUSTOMER, pk="contact.pk"),
    ],
    "customers:contact_delete": [post(IN_SCOPE, **CUSTOMER, pk="contact.pk")],
    "customers:interaction_quick_create": [get(EVERYONE), post(EVERYONE)],
    "customers:interaction_create": [get(IN_SCOPE, **CUSTOMER), post(IN_SCOPE, **CUSTOMER)],
    "customers:visit_planner": [get(EVERYONE)],
    "customers:visit_create": [get(IN_SCOPE, **CUSTOMER), post(IN_SCOPE, **CUSTOMER)],
    "customers:visit_confirm": [post(IN_SCOPE, **VISIT)],
    "customers:visit_prepare": [post(IN_SCOPE, **VISIT)],
    "customers:visit_complete": [post(IN_SCOPE, **VISIT)],
    "customers:import": [get(EVERYONE), post(EVERYONE)],
    "customers:import_template": [get(EVERYONE)],
    "customers:import_detail": [get(OWN_ONLY, pk="import_job.pk")],
    "customers:import_confirm": [post(OWN_ONLY, pk="import_job.pk")],
    "customers:export_detail": [get(CREATOR_ONLY, pk="export_job.pk")],
    "customers:export_download": [get(CREATOR_ONLY, pk="export_job.pk")],
    # --- Service groups ----------------------------------------------------------
    "groups:list": [get(EVERYONE)],
    "groups:create": [get(EVERYONE), post(EVERYONE)],
    "groups:broadcasts": [get(EVERYONE)],
    "groups:broadcast_create": [get(EVERYONE), post(EVERYONE)],
    "groups:broadcast_detail": [get(IN_SCOPE, pk="broadcast.pk")],
    "groups:broadcast_publish": [post(MANAGES, pk="broadcast.pk")],
    "groups:templates": [get(EVERYONE)],
    "groups:template_search": [get(EVERYONE)],
    "groups:template_use": [post(IN_SCOPE, pk="reply_template.pk")],
    "groups:detail": [get(IN_SCOPE, **GROUP)],
    "groups:edit": [get(MANAGES, **GROUP), post(MANAGES, **GROUP)],
    "groups:archive": [post(MANAGES, **GROUP)],
    "groups:join": [post(IN_SCOPE, **GROUP)],
    "groups:member_add": [post(IN_SCOPE, **GROUP)],
    "groups:member_leave": [post(MANAGES, **GROUP, member_pk="membership.pk")],
    "groups:add_district_customers": [post(MANAGES, **GROUP)],
    "groups:unlinked_member_link": [
        get(MANAGES, **GROUP, member_pk="unlinked.pk"),
        post(MANAGES, **GROUP, member_pk="unlinked.pk"),
    ],
    "groups:messages": [get(IN_SCOPE, **GROUP)],
    "groups:reply": [post(IN_SCOPE, **GROUP)],
    # --- Work orders -------------------------------------------------------------
    "tickets:list": [get(EVERYONE)],
    "tickets:create": [get(EVERYONE), post(EVERYONE)],
    # Bulk urge / reassign: supervisors and administrators; each order checked again (test_bulk_actions.py).
    "tickets:bulk": [get("L F F A F A"), post("L F F A F A")],
    "tickets:staff_options": [get(EVERYONE)],
    # Pickers answer every signed-in user with what is in their own scope (tests/core/test_pickers.py).
    "customers:picker_districts": [get(EVERYONE)],
    "customers:picker_lines": [get(EVERYONE)],
    "accounts:picker_managers": [get(EVERYONE)],
    "accounts:picker_staff": [get(EVERYONE)],
    "groups:picker_owners": [get(EVERYONE)],
    "tickets:from_group_message": [
        get(IN_SCOPE, message_id="message.pk"),
        post(IN_SCOPE, message_id="message.pk"),
    ],
    "tickets:detail": [get(IN_SCOPE, **TICKET)],
    "tickets:attachment": [get(IN_SCOPE, **TICKET, pk="attachment.pk")],
    "tickets:action": [
        post(SUPERVISES, **TICKET, action="'dispatch'"),
        post(IN_SCOPE, **TICKET, action="'sign'"),
        post(IN_SCOPE, **TICKET, action="'start'"),
        post(IN_SCOPE, **TICKET, action="'send-back'"),
        post(IN_SCOPE, **TICKET, action="'transfer'"),
        post(SUPERVISES, **TICKET, action="'urge'"),
        # The probe's order is new: the status refuses a reassign (409) before the role is asked.
        post(IN_SCOPE, **TICKET, action="'reassign'"),
        post(IN_SCOPE, **TICKET, action="'resolve'"),
        post(IN_SCOPE, **TICKET, action="'return-visit'"),
        post(IN_SCOPE, **TICKET, action="'reopen'"),
        post(IN_SCOPE, **TICKET, action="'archive'"),
    ],
    # --- Outages -----------------------------------------------------------------
    "outages:list": [get(EVERYONE)],
    "outages:create": [get(EVERYONE), post(EVERYONE)],
    "outages:customer_panel": [get(IN_SCOPE, **CUSTOMER)],
    "outages:detail": [get(IN_SCOPE, **OUTAGE)],
    "outages:reach": [get(IN_SCOPE, **OUTAGE)],
    "outages:reach_export": [get(IN_SCOPE, **OUTAGE)],
    # A call task: its assignee, and supervisors and administrators over its station.
    "reach:calls": [get(EVERYONE)],
    "reach:call_record": [post("L A N A N A", pk="call.pk", outcome="'done'")],
    # Without a chat in the URL the page only asks WeCom which chat it is beside.
    "wecom_toolbar": [get(EVERYONE)],
    "outages:action": [
        post(IN_SCOPE, **OUTAGE, action=f"'{action}'")
        for action in ("publish", "start", "restore", "cancel", "estimate")
    ],
    # --- Notifications: only the recipient ---------------------------------------
    "notifications:inbox": [get(EVERYONE)],
    "notifications:read": [post("L A N N N N", pk="notification.pk")],
    "notifications:read_all": [post(EVERYONE)],
    # --- API: schema and docs: signed-in users (API_DOCS_PUBLIC=false, tests/api/test_docs.py) --
    "api-schema": [get(EVERYONE)],
    "api-docs": [get(EVERYONE)],
    "api-redoc": [get(EVERYONE)],
    # JSON 404 for any API path that names nothing, before authentication: it reveals nothing.
    "api-not-found": [
        Probe("GET", "N N N N N N", url="/api/v1/no-such-resource/"),
        Probe("POST", "N N N N N N", url="/api/v1/customers/5201000099/no-such-step/"),
    ],
    # --- API v1 ------------------------------------------------------------------
    "customers-api:customer-sync": [get(EVERYONE)],
    "customers-api:customer-bulk": [post(EVERYONE)],
    "customers-api:customer-list": [get(EVERYONE), post(EVERYONE)],
    "customers-api:customer-detail": [
        get(IN_SCOPE, **CUSTOMER),
        put(IN_SCOPE, **CUSTOMER),
        patch(IN_SCOPE, **CUSTOMER),
        delete(MANAGES, **CUSTOMER),
    ],
    "customers-api:interaction-list": [
        get(EVERYONE),
        post(EVERYONE),
        create(
            FOR_LEISHAN,
            lambda w: {
                "customer": w["customer"].number,
                "channel": "phone",
                "direction": "outbound",
                "occurred_at": _in_hours(-1),
                "summary": "电话通知计划停电时间。",
            },
        ),
    ],
    "customers-api:visit-list": [
        get(EVERYONE),
        post(EVERYONE),
        create(
            FOR_LEISHAN,
            lambda w: {"customer": w["customer"].number, "purpose": "routine", "scheduled_at": _in_hours(5)},
        ),
    ],
    "customers-api:visit-detail": [get(IN_SCOPE, **VISIT)],
    "groups-api:group-list": [
        get(EVERYONE),
        post(EVERYONE),
        create(
            FOR_LEISHAN,
            lambda w: {
                "name": "台区群",
                "kind": "district",
                "district": w["district"].code,
                "rules": "文明发言。",
            },
        ),
    ],
    "groups-api:group-detail": [get(IN_SCOPE, **GROUP), put(MANAGES, **GROUP), patch(MANAGES, **GROUP)],
    "groups-api:group-members": [get(IN_SCOPE, **API_GROUP), post(IN_SCOPE, **API_GROUP)],
    "groups-api:group-member": [delete(MANAGES, **API_GROUP, pk="membership.pk")],
    "groups-api:group-member-leave": [post(MANAGES, **API_GROUP, pk="membership.pk")],
    "groups-api:group-messages": [get(IN_SCOPE, **API_GROUP), post(IN_SCOPE, **API_GROUP)],
    "tickets-api:ticket-list": [
        get(EVERYONE),
        post(EVERYONE),
        create(
            FOR_LEISHAN,
            lambda w: {
                "kind": "repair",
                "title": "家中停电",
                "description": "无电。",
                "customer": w["customer"].number,
            },
        ),
    ],
    "tickets-api:ticket-detail": [get(IN_SCOPE, **TICKET), patch(IN_SCOPE, **TICKET)],
    **{
        f"tickets-api:ticket-{action}": [
            post(SUPERVISES if action in ("dispatch", "urge") else IN_SCOPE, **TICKET)
        ]
        for action in (
            "accept",
            "archive",
            "dispatch",
            "reassign",
            "reopen",
            "resolve",
            "return-visit",
            "send-back",
            "start",
            "transfer",
            "urge",
        )
    },
    "outages-api:outage-list": [
        get(EVERYONE),
        post(EVERYONE),
        create(
            FOR_LEISHAN,
            lambda w: {
                "kind": "fault",
                "reason": "变压器烧毁",
                "districts": [w["district"].code],
                "estimated_restoration": _in_hours(3),
            },
        ),
    ],
    "outages-api:outage-detail": [get(IN_SCOPE, **OUTAGE)],
    **{
        f"outages-api:outage-{action}": [post(IN_SCOPE, **OUTAGE)]
        for action in ("cancel", "estimate", "publish", "restore", "start")
    },
}


# --- The URL configuration ---------------------------------------------------------


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace]))
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = ":".join(filter(None, [namespace, pattern.name])) if pattern.name else None
            yield prefix + str(pattern.pattern), name, pattern.callback


def routes() -> dict[str, tuple[str, object]]:
    """Route name -> (pattern, view) for every route the matrix has to cover."""
    found = {}
    for pattern, name, view in _walk(get_resolver().url_patterns):
        if pattern.startswith("admin/"):
            continue
        key = name or ("media" if "media/" in pattern else pattern)
        found.setdefault(key, (pattern, view))
    return {name: found[name] for name in found if name not in SKIPPED}


def api_methods(view) -> set[str]:
    """The HTTP methods an API route answers (router actions or APIView handlers)."""
    actions = getattr(view, "actions", None)
    if actions:
        # HEAD and OPTIONS follow GET and the router; they are not separate permissions.
        return {method.upper() for method in actions} - {"HEAD", "OPTIONS"}
    cls = getattr(view, "cls", None)
    if cls is None:
        return set()
    return {m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)}


def test_every_route_is_in_the_matrix():
    present = routes()
    missing = sorted(set(present) - set(MATRIX))
    stale = sorted(set(MATRIX) - set(present))

    assert not missing, f"routes without a row in MATRIX (add what each persona may do): {missing}"
    assert not stale, f"MATRIX rows for routes that no longer exist: {stale}"


def test_every_api_method_is_probed():
    unprobed = []
    for name, (pattern, view) in routes().items():
        if not pattern.startswith("api/"):
            continue
        probed = {probe.method for probe in MATRIX.get(name, [])}
        unprobed += [f"{name} {method}" for method in sorted(api_methods(view) - probed)]

    assert not unprobed, f"API methods without a probe in MATRIX: {unprobed}"


def test_the_matrix_names_only_known_routes_and_skips_with_reasons():
    assert all(reason.strip() for reason in SKIPPED.values())
    for name, probes in MATRIX.items():
        assert probes, name
        for probe in probes:
            probe.letters  # noqa: B018 - validates the expectation string


# --- The world: objects of 雷山供电所 ---------------------------------------------


def _png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return SimpleUploadedFile("现场照片.png", buffer.getvalue())


def _written_export(user) -> ExportJob:
    job = ExportJob.objects.create(created_by=user, language="zh-hans", status=ExportJob.Status.DONE, total=1)
    job.file.save("customers.xlsx", ContentFile(b"PK"), save=True)
    return job


@pytest.fixture
def world(org_tree, manager, colleague, supervisor, outsider, admin_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    cache.clear()
    seed_default_policies(SlaPolicy)
    station = org_tree["station"]
    line = LineFactory(code="XL-MX-1", name="10kV永乐线", station=station)
    district = DistrictFactory(
        code="TQ-MX-1", name="永乐一号台区", station=station, line=line, manager=manager
    )
    customer = CustomerFactory(station=station, district=district, line=line, manager=manager, name="杨丽")
    contact = ContactFactory(customer=customer, name="杨丽", mobile="13885550123")
    group = group_create(
        by=manager, name="永乐一号台区服务群", kind=GroupKind.DISTRICT, district=district, rules="文明发言。"
    )
    membership, _created = membership_add_contact(group=group, contact=contact, by=manager)
    unlinked = UnlinkedMember.objects.create(
        group=group, userid="wmMatrix", kind=UnlinkedMember.Kind.EXTERNAL
    )
    message, _created = message_post(
        group=group, contact=contact, text="请问这个月电费怎么查？", sent_at=timezone.now(), is_inquiry=True
    )
    ticket, _created = ticket_services.ticket_create(
        customer=customer,
        opened_by=manager,
        kind=Kind.REPAIR,
        title="家中停电",
        description="请尽快派人检查。",
    )
    start = timezone.now() + timedelta(days=10)
    return {
        "customer": customer,
        "district": district,
        "contact": contact,
        "group": group,
        "membership": membership,
        "unlinked": unlinked,
        "message": message,
        "ticket": ticket,
        "attachment": ticket_services.attachment_add(ticket=ticket, by=manager, upload=_png()),
        "reply_template": reply_template_create(
            by=manager, title="电费查询渠道", body="可在95598查询。", category=ReplyCategory.values[0]
        ),
        "broadcast": broadcast_create(
            by=manager,
            topic=BroadcastTopic.SAFETY,
            title="安全用电提示",
            body="雷雨天气注意用电安全。",
            groups=[group],
        ),
        "outage": outage_services.outage_create(
            by=manager,
            kind=OutageKind.PLANNED,
            reason="线路检修",
            lines=[line],
            planned_start=start,
            planned_end=start + timedelta(hours=8),
        ),
        "visit": visit_schedule(
            customer=customer,
            staff=manager,
            created_by=manager,
            purpose=Visit.Purpose.COMPLAINT_FOLLOW_UP,
            scheduled_at=timezone.now() + timedelta(hours=2),
        ),
        "import_job": ImportJob.objects.create(
            created_by=manager, file_name="客户.csv", file_format=ImportJob.Format.CSV, content=b"number\n"
        ),
        "export_job": _written_export(manager),
        "notification": NotificationFactory(recipient=manager),
        "call": _call_task(customer, contact, manager),
        "personas": {
            "anonymous": None,
            "manager": manager,
            "colleague": colleague,
            "supervisor": supervisor,
            "outsider": outsider,
            "admin_user": admin_user,
        },
    }


def _call_task(customer, contact, manager):
    notice = ReachNotice.objects.create(
        key="matrix:notice", topic_key="matrix", label="停电通知", subject="停电通知", dedupe_prefix="matrix:"
    )
    return ReachRecord.objects.create(
        notice=notice,
        customer=customer,
        station=customer.station,
        contact=contact,
        channel=Channel.CALL,
        reason=Reason.HIGH_SENSITIVITY_CALL,
        state=State.WAITING,
        call_state=CallState.PENDING,
        call_assignee=manager,
    )


def _resolve(world: dict, reference: str):
    if reference.startswith("'"):
        return reference.strip("'")
    name, attribute = reference.split(".")
    return getattr(world[name], attribute)


def _outcome(response, is_api: bool, decisive: bool) -> str:
    status = response.status_code
    assert status < 500, f"server error {status}"
    if is_api and status == 401:
        return "L"
    # The API docs pages are pages: they send a visitor to the login page too.
    if status == 302 and response["Location"].startswith(LOGIN_PATH):
        return "L"
    if decisive:
        return "C" if status < 400 else "R" if status in (400, 403, 404) else "?"
    return {403: "F", 404: "N", 401: "?"}.get(status, "A")


def _request(client, probe: Probe, url: str, is_api: bool, world: dict):
    if is_api:
        body = json.dumps(probe.body(world) if probe.body else {})
        return client.generic(probe.method, url, body, content_type="application/json")
    return client.generic(probe.method, url, "", content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_route_answers_each_persona_as_the_matrix_says(name, world, client):
    pattern, _view = routes()[name]
    is_api = pattern.startswith("api/")
    failures = []
    for probe in MATRIX[name]:
        url = probe.url or reverse(
            name, kwargs={key: _resolve(world, ref) for key, ref in probe.kwargs.items()}
        )
        seen = ""
        for persona, expected in zip(PERSONAS, probe.letters, strict=True):
            user = world["personas"][persona]
            client.logout()
            if user is not None:
                client.force_login(user)
            with transaction.atomic():
                response = _request(client, probe, url, is_api, world)
                transaction.set_rollback(True)
            seen += _outcome(response, is_api, decisive=probe.body is not None)
            if seen[-1] != expected:
                failures.append(
                    f"{probe.method} {url} as {persona}: expected {expected}, got {response.status_code}"
                )
        if seen != probe.letters:
            failures.append(f"  row for {probe.method} {url}: expected {probe.letters}, got {seen}")
    assert not failures, "\n".join(failures)
