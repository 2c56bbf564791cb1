"""WeCom one-to-one sends against the sandbox: one task per (notice, manager) to their external
contacts, confirmed in WeCom → reached; not confirmed in time, refused or over the limit → SMS, once."""

from datetime import timedelta

import pytest
import requests
import time_machine
from django.utils import timezone

from notifications.models import Notification
from outages import services as outages
from reach import services
from reach.models import Channel, PersonalPost, PersonalPostState, ReachRecord, Reason, State
from reach.one_to_one import personal_posts_create, personal_posts_poll
from tests.factories import ContactFactory, CustomerFactory


def control(sandbox, path, payload=None, method="post"):
    response = getattr(requests, method)(f"{sandbox.base_url}/sandbox/{path}", json=payload, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def tasks(sandbox):
    return control(sandbox, "groupmsg", method="get")["tasks"]


@pytest.fixture
def wecom_manager(wecom_sandbox, grid):
    """The manager of every district, a WeCom member "zhangsan"."""
    manager = grid["d2"].manager
    manager.wecom_userid = "zhangsan"
    manager.save(update_fields=["wecom_userid"])
    control(wecom_sandbox, "staff", {"userid": "zhangsan", "name": "张三"})
    return manager


@pytest.fixture
def add_customer(grid, wecom_sandbox):
    """add_customer(external_userid="", followed=True, **flags): a customer of d2 (no group) whose
    primary contact has a mobile and, when given, that WeCom external userid — an external
    contact of zhangsan in the sandbox unless `followed` is False."""

    def _add(external_userid="", *, followed=True, **flags):
        district = grid["d2"]
        customer = CustomerFactory(
            station=district.station, district=district, line=district.line, manager=district.manager, **flags
        )
        ContactFactory(customer=customer, is_primary=True, wecom_external_userid=external_userid)
        if external_userid and followed:
            control(
                wecom_sandbox,
                "contacts",
                {
                    "name": customer.name,
                    "external_userid": external_userid,
                    "follow_user": [{"userid": "zhangsan"}],
                },
            )
        return customer

    return _add


def start_records(outage):
    notice = outage.notices.get(kind="start")
    return ReachRecord.objects.filter(notice__key=f"outage_notice:{notice.pk}")


def publish(fault, grid):
    outage = outages.outage_publish(outage=fault(districts=[grid["d2"]]))
    outages.fan_out_due()
    return outage


def test_customers_are_reached_when_their_manager_confirms_the_one_to_one_task(
    grid, fault, wecom_manager, add_customer, wecom_sandbox
):
    first, second = add_customer("wmFirst"), add_customer("wmSecond", is_important=True)
    outage = publish(fault, grid)
    records = start_records(outage)
    assert set(records.values_list("channel", "state", "reason")) == {
        (Channel.WECOM, State.WAITING, Reason.WECOM_CONTACT)
    }
    assert not Notification.objects.filter(channel="sms").exists()

    report = personal_posts_create()

    assert (report.tasks, report.waiting) == (1, 2)
    [task] = tasks(wecom_sandbox)
    assert (task["chat_type"], task["sender"], sorted(task["external_userid"])) == (
        "single",
        "zhangsan",
        ["wmFirst", "wmSecond"],
    )
    assert task["text"].startswith("【停电通知】")
    post = PersonalPost.objects.get()
    assert (post.state, post.msgid, post.records.count()) == (PersonalPostState.WAITING, task["msgid"], 2)
    # Not sent yet: the poll changes nothing.
    assert personal_posts_poll().reached == 0
    assert set(records.values_list("state", flat=True)) == {State.WAITING}

    control(wecom_sandbox, "groupmsg/" + task["msgid"] + "/confirm")
    report = personal_posts_poll()

    assert (report.reached, report.calls) == (2, 2)
    assert set(records.values_list("state", flat=True)) == {State.REACHED}
    assert all(r.reached_at for r in records)
    assert PersonalPost.objects.get().state == PersonalPostState.DONE
    assert services.reach_refresh() == 0
    assert not Notification.objects.filter(channel="sms").exists()
    assert {first.pk, second.pk} == set(records.values_list("customer_id", flat=True))


def test_one_task_per_notice_and_manager_across_fan_out_batches(
    grid, fault, wecom_manager, add_customer, wecom_sandbox, monkeypatch, settings
):
    settings.OUTAGE_FAN_OUT_BATCH_SIZE = 2
    for index in range(5):
        add_customer(f"wm{index}")
    real_batch = outages.reach_batch
    created = []

    def batch_then_worker(*args, **kwargs):
        # A kicked worker runs between two batches of the fan-out.
        result = real_batch(*args, **kwargs)
        created.append(personal_posts_create().tasks)
        return result

    monkeypatch.setattr(outages, "reach_batch", batch_then_worker)
    publish(fault, grid)

    assert sum(created) == 0
    assert personal_posts_create().tasks == 1
    [task] = tasks(wecom_sandbox)
    assert len(task["external_userid"]) == 5
    assert personal_posts_create().tasks == 0


def test_a_task_the_manager_never_confirms_falls_back_to_sms_once_and_is_taken_back(
    grid, fault, wecom_manager, add_customer, wecom_sandbox, settings
):
    add_customer("wmFirst"), add_customer("wmSecond")
    outage = publish(fault, grid)
    personal_posts_create()
    records = start_records(outage)

    later = timezone.now() + timedelta(minutes=settings.REACH_GROUP_POST_DEADLINE_MINUTES + 1)
    with time_machine.travel(later):
        assert services.reach_refresh() == 2
        assert services.reach_refresh() == 0
        report = personal_posts_poll()

    assert set(records.values_list("channel", "fallback_from", "reason", "state")) == {
        (Channel.SMS, Channel.WECOM, Reason.WECOM_NOT_SENT, State.QUEUED)
    }
    assert Notification.objects.filter(channel="sms").count() == 2
    # The manager can no longer send it: the customer is not told twice.
    assert report.cancelled == 1
    [task] = tasks(wecom_sandbox)
    assert task["cancelled"] is True
    assert PersonalPost.objects.get().state == PersonalPostState.NOT_SENT


def test_a_wecom_fault_while_creating_keeps_the_post_queued_then_creates_it_once(
    grid, fault, wecom_manager, add_customer, wecom_sandbox
):
    add_customer("wmFirst")
    outage = publish(fault, grid)
    control(wecom_sandbox, "faults", {"errcode": -1, "count": 50, "path": "externalcontact/add_msg_template"})

    report = personal_posts_create()

    assert (report.retry, report.tasks) == (1, 0)
    assert PersonalPost.objects.get().state == PersonalPostState.QUEUED
    assert tasks(wecom_sandbox) == []
    # Claimed for a while: an immediate second run leaves it alone.
    assert personal_posts_create().tasks == 0
    wecom_sandbox.state.faults.clear()
    assert personal_posts_create(now=timezone.now() + timedelta(minutes=5)).tasks == 1
    assert len(tasks(wecom_sandbox)) == 1
    assert PersonalPost.objects.get().state == PersonalPostState.WAITING
    assert set(start_records(outage).values_list("state", flat=True)) == {State.WAITING}


def test_a_wecom_fault_while_polling_changes_nothing_until_wecom_answers(
    grid, fault, wecom_manager, add_customer, wecom_sandbox
):
    add_customer("wmFirst")
    outage = publish(fault, grid)
    personal_posts_create()
    [task] = tasks(wecom_sandbox)
    control(wecom_sandbox, "groupmsg/" + task["msgid"] + "/confirm")
    control(
        wecom_sandbox, "faults", {"errcode": -1, "count": 50, "path": "externalcontact/get_groupmsg_task"}
    )

    assert personal_posts_poll().reached == 0
    assert start_records(outage).get().state == State.WAITING

    wecom_sandbox.state.faults.clear()
    assert personal_posts_poll().reached == 1
    assert start_records(outage).get().state == State.REACHED


def test_contacts_wecom_refuses_or_that_are_over_the_daily_limit_fall_back_at_once(
    grid, fault, wecom_manager, add_customer, wecom_sandbox
):
    taken = add_customer("wmTaken")
    not_followed = add_customer("wmStranger", followed=False)
    outage = publish(fault, grid)
    records = start_records(outage)

    report = personal_posts_create()

    assert (report.tasks, report.not_sent) == (1, 1)
    refused = records.get(customer=not_followed)
    assert (refused.channel, refused.fallback_from) == (Channel.SMS, Channel.WECOM)
    # The other contact got another 群发 today: WeCom reports it not received.
    control(wecom_sandbox, "config", {"single_daily_limit": 0})
    [task] = tasks(wecom_sandbox)
    control(wecom_sandbox, "groupmsg/" + task["msgid"] + "/confirm")
    assert personal_posts_poll().not_sent == 1
    over = records.get(customer=taken)
    assert (over.channel, over.fallback_from, over.reason) == (
        Channel.SMS,
        Channel.WECOM,
        Reason.WECOM_NOT_SENT,
    )
    assert Notification.objects.filter(channel="sms").count() == 2
    assert services.reach_refresh() == 0


def test_not_this_channel_without_an_external_userid_a_manager_account_or_wecom(
    grid, fault, wecom_manager, add_customer, wecom_sandbox, settings, org_tree
):
    plain = add_customer("")
    linked = add_customer("wmLinked")
    outage = publish(fault, grid)
    records = {r.customer_id: r for r in start_records(outage)}
    assert (records[plain.pk].channel, records[plain.pk].reason) == (Channel.SMS, Reason.NO_GROUP)
    assert records[linked.pk].channel == Channel.WECOM
    assert PersonalPost.objects.get().records.count() == 1

    # Without WeCom configured, nobody waits for a one-to-one that cannot go out.
    settings.WECOM_CONTACT_SECRET = ""
    again = outages.outage_publish(outage=fault(districts=[grid["d2"]]))
    outages.fan_out_due()
    assert set(start_records(again).values_list("channel", flat=True)) == {Channel.SMS}
    assert PersonalPost.objects.count() == 1


def test_a_manager_without_a_wecom_account_texts_instead(grid, fault, add_customer, wecom_sandbox):
    customer = add_customer("wmLinked")
    assert not customer.manager.wecom_userid
    outage = publish(fault, grid)
    assert start_records(outage).get().channel == Channel.SMS
    assert not PersonalPost.objects.exists()


def test_restoration_withdraws_the_one_to_one_and_takes_the_task_back(
    grid, fault, wecom_manager, add_customer, wecom_sandbox
):
    add_customer("wmFirst")
    outage = publish(fault, grid)
    personal_posts_create()
    outages.outage_restore(outage=outage)
    assert start_records(outage).get().state == State.CANCELLED

    assert personal_posts_poll().cancelled == 1
    start_task = next(t for t in tasks(wecom_sandbox) if t["text"].startswith("【停电通知】"))
    assert start_task["cancelled"] is True


def test_the_admin_lists_the_one_to_one_tasks_read_only(
    grid, fault, wecom_manager, add_customer, wecom_sandbox, login, admin_user
):
    from django.urls import reverse

    add_customer("wmFirst")
    publish(fault, grid)
    personal_posts_create()
    post = PersonalPost.objects.get()
    client = login(admin_user)

    listing = client.get(reverse("admin:reach_personalpost_changelist"))
    detail = client.get(reverse("admin:reach_personalpost_change", args=[post.pk]))

    assert listing.status_code == detail.status_code == 200
    assert post.msgid in listing.content.decode() and "等待客户经理确认" in listing.content.decode()
    assert client.get(reverse("admin:reach_personalpost_add")).status_code == 403
