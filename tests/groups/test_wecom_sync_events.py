"""WeCom's callbacks keep groups and links in step; faults (expired token, rate limit) are survived."""

from urllib.parse import urlencode

import pytest
from django.utils import timezone

from customers.models import Contact
from groups.models import Membership, ServiceGroup, UnlinkedMember, WeComChat, WeComChatStatus
from groups.services.wecom_sync import chat_sync, groups_reconcile
from groups.tasks import reconcile_wecom_groups
from tests.wecom.conftest import CALLBACK_AES_KEY, CALLBACK_TOKEN
from wecom.client import WeComClient, WeComTransientError
from wecom.models import CallbackEvent, StatusMark
from wecom.services import callback_event_process, callback_events_process_due

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_kicks(monkeypatch):
    """Events are processed by the test (the inbox's sweep), not by a broker."""
    monkeypatch.setattr("wecom.services._publish", lambda event_id: None)


def deliver(client, corp) -> list[int]:
    """POST every callback the sandbox built since the last delivery to /wecom/callback/, as WeCom would."""
    statuses = []
    records = corp.get("callbacks")["callbacks"]
    for record in records[getattr(corp, "delivered", 0) :]:
        response = client.post(
            f"/wecom/callback/?{urlencode(record['query'])}", record["body"], content_type="text/xml"
        )
        statuses.append(response.status_code)
    corp.delivered = len(records)
    return statuses


def process() -> int:
    return callback_events_process_due()


def test_group_life_by_callbacks_alone(client, corp, colleague):
    chat_id = corp.group("VIP客户群", "zhangsan", ["wmA"])
    assert deliver(client, corp) == [200]
    process()
    group = ServiceGroup.objects.get(external_id=chat_id)
    assert set(UnlinkedMember.objects.active().filter(group=group).values_list("userid", flat=True)) == {
        "wmA"
    }

    corp.post(f"groups/{chat_id}/rename", {"name": "VIP大客户群"})
    corp.post(f"groups/{chat_id}/members", {"add": ["lisi"], "remove": ["wmA"]})
    assert deliver(client, corp) == [200, 200, 200]  # change_name, add_member, del_member
    process()
    group.refresh_from_db()
    assert group.name == "VIP大客户群"
    assert Membership.objects.active().filter(group=group, user=colleague).exists()
    left = UnlinkedMember.objects.get(group=group, userid="wmA")
    assert left.left_at is not None

    corp.post(f"groups/{chat_id}/owner", {"owner": "lisi"})
    deliver(client, corp)
    process()
    group.refresh_from_db()
    assert group.owner == colleague and group.org_unit == colleague.org_unit

    corp.post(f"groups/{chat_id}/dismiss")
    deliver(client, corp)
    process()
    group.refresh_from_db()
    assert group.archived_at is not None
    assert set(CallbackEvent.objects.values_list("status", flat=True)) == {CallbackEvent.Status.DONE}


def test_an_event_processed_twice_changes_nothing_the_second_time(client, corp):
    chat_id = corp.group("VIP客户群", "zhangsan", ["wmA", "wmB"])
    corp.post(f"groups/{chat_id}/members", {"remove": ["wmA"]})
    deliver(client, corp)
    process()
    snapshot = list(UnlinkedMember.objects.order_by("pk").values_list("pk", "userid", "joined_at", "left_at"))
    chat = WeComChat.objects.values_list("name", "status", "member_count").get()

    # A worker died after the handlers ran: the events are handed over again.
    CallbackEvent.objects.update(status=CallbackEvent.Status.PENDING, next_attempt_at=timezone.now())
    for event_id in CallbackEvent.objects.values_list("pk", flat=True):
        callback_event_process(event_id=event_id)

    assert snapshot == list(
        UnlinkedMember.objects.order_by("pk").values_list("pk", "userid", "joined_at", "left_at")
    )
    assert chat == WeComChat.objects.values_list("name", "status", "member_count").get()
    assert ServiceGroup.objects.count() == 1


def test_the_leave_time_is_the_events_time(client, corp):
    chat_id = corp.group("VIP客户群", "zhangsan", ["wmA"])
    chat_sync(chat_id=chat_id)
    corp.post(f"groups/{chat_id}/members", {"remove": ["wmA"]})
    deliver(client, corp)
    event = CallbackEvent.objects.get(change_type="update")
    sent_at = int(event.payload["CreateTime"])
    # Processed much later (a backlog): the leave still carries WeCom's time.
    CallbackEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() + timezone.timedelta(hours=1))
    process()
    assert UnlinkedMember.objects.get(userid="wmA").left_at.timestamp() == sent_at


def test_a_new_wecom_contact_links_by_remark_mobiles_and_the_group_follows(client, corp, make_customer):
    contact = make_customer().contacts.get()
    chat_id = corp.group("VIP客户群", "zhangsan", ["wmNew"])
    chat_sync(chat_id=chat_id, remark_lookups=0)
    corp.delivered = len(corp.get("callbacks")["callbacks"])
    corp.contact("wmNew", "新客户", [{"userid": "zhangsan", "remark_mobiles": [contact.mobile]}])

    assert deliver(client, corp) == [200]
    process()

    contact.refresh_from_db()
    assert contact.wecom_external_userid == "wmNew"
    assert Membership.objects.active().filter(group__external_id=chat_id, contact=contact).exists()
    assert not UnlinkedMember.objects.active().filter(userid="wmNew").exists()


def send_contact_event(client, corp, change_type: str, external_userid: str) -> None:
    request = corp.sandbox.signed_callback(
        "change_external_contact",
        {"ChangeType": change_type, "UserID": "zhangsan", "ExternalUserID": external_userid},
    )
    response = client.post(
        f"/wecom/callback/?{urlencode(request['query'])}", request["body"], content_type="text/xml"
    )
    assert response.status_code == 200


def test_a_customer_wecom_no_longer_knows_is_unlinked_unless_still_in_a_group(client, corp, make_customer):
    gone = make_customer().contacts.get()
    gone.wecom_external_userid = "wmGone"
    gone.save()
    stays = make_customer().contacts.get()
    stays.wecom_external_userid = "wmStays"
    stays.save()
    chat_sync(chat_id=corp.group("VIP客户群", "zhangsan", ["wmStays"]))

    send_contact_event(client, corp, "del_external_contact", "wmGone")
    send_contact_event(client, corp, "del_follow_user", "wmStays")
    process()

    assert Contact.objects.get(pk=gone.pk).wecom_external_userid == ""
    assert Contact.objects.get(pk=stays.pk).wecom_external_userid == "wmStays"
    assert gone.history.first().wecom_external_userid == ""


def test_callbacks_posted_by_the_sandbox_to_the_live_crm(live_server, corp, settings):
    corp.sandbox.set_callback(
        url=f"{live_server.url}/wecom/callback/", token=CALLBACK_TOKEN, aes_key=CALLBACK_AES_KEY
    )
    settings.ALLOWED_HOSTS = ["*"]

    chat_id = corp.group("VIP客户群", "zhangsan", ["wmA"])
    corp.post(f"groups/{chat_id}/rename", {"name": "改名了"})

    assert [record["status"] for record in corp.get("callbacks")["callbacks"]][-2:] == [200, 200]
    assert process() == 2
    assert ServiceGroup.objects.get(external_id=chat_id).name == "改名了"


# --- faults ---------------------------------------------------------------------------------


def test_an_expired_token_mid_reconcile_is_fetched_again_once(corp):
    for index in range(3):
        corp.group(f"VIP群{index}", "zhangsan", ["wmA"])
    state = corp.state

    class ExpiringAfterFirstGroup(WeComClient):
        reads = 0

        def groupchat_get(self, chat_id, **kwargs):
            self.reads += 1
            if self.reads == 2:
                state.expire_tokens()
            return super().groupchat_get(chat_id, **kwargs)

    client = ExpiringAfterFirstGroup.contact()
    client.access_token()
    tokens_before = state.token_requests

    result = groups_reconcile(client=client)

    assert (result.fetched, result.failed) == (3, 0)
    assert state.token_requests == tokens_before + 1
    assert ServiceGroup.objects.count() == 3


def test_a_rate_limit_is_waited_out(corp):
    corp.group("VIP群", "zhangsan", ["wmA"])
    corp.post("faults", {"errcode": 45009, "count": 2, "path": "externalcontact/groupchat/get"})

    result = groups_reconcile(client=WeComClient.contact(backoff=0.01))

    assert (result.fetched, result.failed) == (1, 0)
    assert corp.calls().count("externalcontact/groupchat/get") == 3


def test_one_group_failing_does_not_stop_the_others_and_is_read_next_time(corp):
    for index in range(3):
        corp.group(f"VIP群{index}", "zhangsan", [])
    # The first group read gets a rate limit on every try.
    corp.post("faults", {"errcode": 45009, "count": 3, "path": "externalcontact/groupchat/get"})

    result = groups_reconcile(client=WeComClient.contact(backoff=0.01))

    assert (result.fetched, result.failed) == (2, 1)
    assert "reconcile" in StatusMark.objects.get(key="error").values["source"]
    assert groups_reconcile().fetched == 1
    assert ServiceGroup.objects.count() == 3
    assert not WeComChat.objects.exclude(status=WeComChatStatus.SYNCED).exists()


def test_a_listing_that_keeps_failing_raises_and_the_task_retries_on_it(corp):
    corp.post("faults", {"errcode": -1, "count": 3, "path": "externalcontact/groupchat/list"})
    with pytest.raises(WeComTransientError):
        groups_reconcile(client=WeComClient.contact(backoff=0.01))
    assert WeComTransientError in reconcile_wecom_groups.autoretry_for
    assert not WeComChat.objects.exists()


def test_the_task_does_nothing_without_wecom(settings):
    settings.WECOM_CORP_ID = ""
    assert reconcile_wecom_groups() == {"skipped": "not configured"}


def test_the_task_reconciles(corp):
    corp.group("VIP群", "zhangsan", [])
    assert reconcile_wecom_groups()["created"] == 1
