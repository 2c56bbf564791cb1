"""No mobile number reaches the logs (ARCHITECTURE rule 11).

Every log record of a whole working day is captured at DEBUG: archives with
mobiles made through the API and the web forms, a work order opened and run
past its deadline by the SLA scan, notifications delivered through the outbox
to an SMS gateway that fails, and a fault outage published and fanned out to
the customers by SMS. No message, argument or traceback may carry an unmasked
mainland mobile number.
"""

import logging
import re
import traceback
from datetime import timedelta

import pytest
import requests
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from customers.models import Contact, Customer
from notifications import backends
from notifications.models import Notification
from notifications.tasks import deliver_due_notifications, send_digests
from outages import services as outage_services
from outages.models import OutageKind
from outages.tasks import fan_out_notices
from tests.factories import DistrictFactory, LineFactory
from tickets.defaults import seed_default_policies
from tickets.models import SlaPolicy
from tickets.tasks import sla_scan

MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
API_MOBILE = "13885550001"
FORM_MOBILE = "13985551234"
LOGGERS = ["", "django", "django.request", "celery", "celery.task", "celery.app.trace", "kombu", "axes"]
APP_LOGGERS = ["accounts", "customers", "groups", "tickets", "outages", "notifications", "crm"]


def record_texts(record: logging.LogRecord) -> list[str]:
    texts = [str(record.msg), repr(record.args), record.getMessage()]
    if record.exc_info:
        texts.append("".join(traceback.format_exception(*record.exc_info)))
    if record.exc_text:
        texts.append(record.exc_text)
    return texts


def leaks(records: list[logging.LogRecord]) -> list[str]:
    return [
        f"{record.name} {record.levelname}: {text[:200]}"
        for record in records
        for text in record_texts(record)
        if MOBILE.search(text)
    ]


@pytest.fixture
def all_logs(caplog):
    """caplog at DEBUG on the root, Django's, Celery's and the apps' loggers (non-propagating ones too)."""
    attached = []
    for name in LOGGERS + APP_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
        logger = logging.getLogger(name)
        if name and not logger.propagate:
            logger.addHandler(caplog.handler)
            attached.append(logger)
    yield caplog
    for logger in attached:
        logger.removeHandler(caplog.handler)


class FailingGateway:
    """An SMS gateway that cannot be reached, with the number in the error (as real clients do)."""

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(self, url, json=None, headers=None, timeout=None):
        self.calls.append(json or {})
        raise requests.ConnectionError(f"gateway refused message to {json.get('mobile')}: {json}")


def test_the_leak_detector_finds_a_mobile_in_a_message_its_args_and_a_traceback():
    def record(msg, args=(), exc_info=None):
        return logging.LogRecord("x", logging.INFO, __file__, 1, msg, args, exc_info)

    try:
        raise ValueError("bad number 13885550001")
    except ValueError as exc:
        failure = (type(exc), exc, exc.__traceback__)

    assert leaks([record("sent to 13885550001")])
    assert leaks([record("sent to %s", ("13885550001",))])
    assert leaks([record("failed", exc_info=failure)])
    assert not leaks([record("sent to %s", ("138****0001",))]), "masked numbers are fine"
    assert not leaks([record("customer 5201000099, order GD202611220001, mobile 0855-8123456")])


def test_a_working_day_logs_no_mobile_number(all_logs, settings, monkeypatch, org_tree, manager, supervisor):
    settings.SMS_GATEWAY_URL = "http://sms-gateway.invalid/send"
    settings.SMS_GATEWAY_TOKEN = "gateway-token"
    gateway = FailingGateway()
    monkeypatch.setattr(backends.requests, "post", gateway)
    seed_default_policies(SlaPolicy)
    station = org_tree["station"]
    line = LineFactory(code="XL-LOG-1", name="10kV永乐线", station=station)
    district = DistrictFactory(
        code="TQ-LOG-1", name="永乐一号台区", station=station, line=line, manager=manager
    )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=manager).key}")
    web = APIClient()
    web.force_login(manager)

    # An archive with a mobile through the API, a bad one refused, and one through the web forms.
    archive = {
        "number": "5201000099",
        "name": "雷山县新开超市",
        "kind": "commercial",
        "voltage": "380V",
        "address": "雷山县丹江镇新街5号",
        "station": "LS01",
        "district": district.code,
        "manager": manager.username,
        "vip_tier": 1,
        "contacts": [{"name": "吴老板", "mobile": API_MOBILE, "is_primary": True}],
    }
    bad = {**archive, "number": "5201000098", "contacts": [{"name": "吴老板", "mobile": "1388555000"}]}
    assert api.post("/api/v1/customers/", bad, format="json").status_code == 400
    assert api.post("/api/v1/customers/", archive, format="json").status_code == 201, "API archive"
    form = {
        "number": "5201234567",
        "name": "雷山县丹江镇卫生院",
        "kind": Customer.Kind.COMMERCIAL,
        "segment": Customer.Segment.URBAN,
        "voltage": Customer.Voltage.V380,
        "address": "雷山县丹江镇新街1号",
        "station": station.pk,
        "district": district.pk,
        "line": "",
        "manager": manager.pk,
        "vip_tier": 1,
        "notes": "",
    }
    assert web.post(reverse("customers:create"), form).status_code == 302
    contact = {
        "name": "吴医生",
        "relation": "self",
        "mobile": FORM_MOBILE,
        "landline": "",
        "wechat_id": "",
        "email": "",
        "preferred_channel": "sms",
        "is_primary": "on",
    }
    contact_url = reverse("customers:contact_create", args=["5201234567"])
    assert web.post(contact_url, {**contact, "mobile": "12345"}).status_code == 200, "bad mobile refused"
    assert web.post(contact_url, contact).status_code == 302
    assert set(Contact.objects.values_list("mobile", flat=True)) == {API_MOBILE, FORM_MOBILE}
    assert web.get(reverse("search"), {"q": FORM_MOBILE}, follow=True).status_code == 200

    # A work order, left until the SLA scan escalates it.
    response = api.post(
        "/api/v1/tickets/",
        {
            "kind": "repair",
            "title": "家中停电",
            "description": "客户反映家中无电。",
            "customer": "5201000099",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    later = timezone.now() + timedelta(hours=6)
    with time_machine.travel(later, tick=False):
        sla_scan.apply()
    # Supervisors hear of escalations in their digest.
    later += timedelta(minutes=settings.SUPERVISOR_DIGEST_MINUTES)
    with time_machine.travel(later, tick=False):
        send_digests.apply()
    assert Notification.objects.filter(dedupe_key__startswith="digest:escalations:").exists(), (
        "the scan escalated"
    )

    # A fault outage on the district: published, fanned out by SMS to both sensitive customers.
    outage = outage_services.outage_create(
        by=manager,
        kind=OutageKind.FAULT,
        reason="变压器故障",
        districts=[district],
        estimated_restoration=timezone.now() + timedelta(hours=3),
    )
    outage_services.outage_publish(outage=outage, by=manager)
    fan_out_notices.apply()
    sms = Notification.objects.filter(channel=Notification.Channel.SMS)
    assert set(sms.values_list("address", flat=True)) == {API_MOBILE, FORM_MOBILE}

    # The outbox delivers: in-app rows are sent, the SMS gateway fails and the rows wait for a retry.
    with time_machine.travel(later, tick=False):
        deliver_due_notifications.apply()
    assert {call["mobile"] for call in gateway.calls} == {API_MOBILE, FORM_MOBILE}
    assert not sms.filter(status=Notification.Status.SENT).exists()
    assert Notification.objects.filter(status=Notification.Status.SENT).exists()

    records = all_logs.records
    assert any(r.name.startswith("notifications") for r in records), "the failed deliveries were logged"
    assert any(r.name.startswith("celery") for r in records), "the tasks ran through Celery"
    assert leaks(records) == []


def test_the_console_handler_masks_a_mobile_that_a_library_logs():
    console = next(
        handler
        for handler in logging.getLogger().handlers
        if any(type(f).__name__ == "MaskMobileNumbers" for f in handler.filters)
    )
    record = logging.LogRecord(
        "django.db.backends",
        logging.DEBUG,
        __file__,
        1,
        "(0.001) %s; args=%r",
        ("UPDATE ...", (API_MOBILE, 7)),
        None,
    )

    assert console.filter(record)
    line = console.format(record)

    assert "138****0001" in line and "7)" in line
    assert not MOBILE.search(line)
