"""Group messages from WeCom's chat archive, read from the spool a separate SDK puller writes."""

import json
import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from groups.archive import services as archive_services
from groups.archive.services import archive_pull, archive_retry_held
from groups.archive.sources import SpoolSource
from groups.models import (
    ArchiveCursor,
    GroupHealth,
    GroupKind,
    GroupMessage,
    HeldArchiveMessage,
    ServiceGroup,
)
from groups.services.groups import group_create
from groups.services.members import membership_add_contact
from groups.tasks import pull_chat_archive
from tests.groups.archive_support import CUSTOMER_ID, ROOM, STAFF_ID, ms, text_message, write_spool


@pytest.fixture
def spool(tmp_path) -> SpoolSource:
    return SpoolSource(tmp_path)


@pytest.fixture
def asked_at():
    # Within the health window and an hour back, so no time is in the future.
    return (timezone.now() - timedelta(hours=1)).replace(microsecond=0)


def test_a_customer_question_arrives_as_an_inquiry_and_the_staff_reply_in_the_chat_answers_it(
    linked, spool, tmp_path, asked_at
):
    write_spool(
        tmp_path,
        [
            text_message(1, "msg-q1", CUSTOMER_ID, "请问今天为什么停电？", asked_at),
            text_message(
                2, "msg-r1", STAFF_ID, "线路检修，下午三点前恢复。", asked_at + timedelta(minutes=7)
            ),
        ],
    )

    report, seq = archive_pull(source=spool)

    assert (report.read, report.created, report.held, seq) == (2, 2, 0, 2)
    inquiry = GroupMessage.objects.get(external_id="msg-q1")
    reply = GroupMessage.objects.get(external_id="msg-r1")
    assert inquiry.is_inquiry and inquiry.sender_kind == "customer" and inquiry.recorded_by is None
    assert reply.sender_kind == "staff" and reply.sender_user_id == linked.owner_id
    assert inquiry.answer_id == reply.pk
    assert inquiry.answered_at == asked_at + timedelta(minutes=7)
    assert inquiry.response_seconds == 420
    health = GroupHealth.objects.get(group=linked)
    assert (health.unanswered_now, health.median_response_seconds) == (0, 420)
    assert ArchiveCursor.objects.get(source="spool").seq == 2


def test_a_question_nobody_answered_yet_waits_with_its_deadline_from_the_chat_time(
    linked, spool, tmp_path, asked_at
):
    write_spool(tmp_path, [text_message(1, "msg-q1", CUSTOMER_ID, "电费怎么这么高？", asked_at)])

    archive_pull(source=spool)

    inquiry = GroupMessage.objects.get(external_id="msg-q1")
    assert inquiry.is_inquiry and inquiry.answered_at is None
    assert inquiry.sent_at == asked_at and inquiry.response_due_at > asked_at
    assert GroupHealth.objects.get(group=linked).unanswered_now == 1


def test_reading_the_same_file_twice_stores_each_message_once(linked, spool, tmp_path, asked_at):
    write_spool(
        tmp_path,
        [
            text_message(1, "msg-q1", CUSTOMER_ID, "请问何时来电？", asked_at),
            text_message(2, "msg-r1", STAFF_ID, "预计十点。", asked_at + timedelta(minutes=2)),
        ],
    )
    archive_pull(source=spool)
    ArchiveCursor.objects.filter(source="spool").update(seq=0)

    report, seq = archive_pull(source=spool)

    assert (report.created, report.duplicate, seq) == (0, 2, 2)
    assert GroupMessage.objects.filter(group=linked).count() == 2
    assert GroupMessage.objects.get(external_id="msg-q1").response_seconds == 120


def test_a_puller_killed_mid_batch_starts_the_batch_again_without_loss_or_duplicates(
    linked, manager, spool, tmp_path, asked_at, monkeypatch
):
    other = group_create(by=manager, name="大工业客户群", kind=GroupKind.VIP, rules="文明发言。")
    ServiceGroup.objects.filter(pk=other.pk).update(external_id="wrOTHER")
    write_spool(
        tmp_path,
        [
            text_message(1, "msg-a", CUSTOMER_ID, "请问几点来电？", asked_at),
            text_message(2, "msg-b", STAFF_ID, "各位好，今日检修。", asked_at, room="wrOTHER"),
            text_message(3, "msg-c", STAFF_ID, "十点来电。", asked_at + timedelta(minutes=1)),
        ],
    )
    real_ingest = archive_services.messages_ingest
    calls = []

    def ingest_then_die(**kwargs):
        calls.append(kwargs["group"].pk)
        result = real_ingest(**kwargs)
        if len(calls) == 2:
            raise SystemExit("worker killed")  # after the first group's rows were written
        return result

    monkeypatch.setattr(archive_services, "messages_ingest", ingest_then_die)
    with pytest.raises(SystemExit):
        archive_pull(source=spool)
    assert GroupMessage.objects.count() == 0
    assert ArchiveCursor.objects.get(source="spool").seq == 0

    monkeypatch.setattr(archive_services, "messages_ingest", real_ingest)
    report, seq = archive_pull(source=spool)

    assert (report.created, seq) == (3, 3)
    assert sorted(GroupMessage.objects.values_list("external_id", flat=True)) == ["msg-a", "msg-b", "msg-c"]
    assert GroupMessage.objects.get(external_id="msg-a").response_seconds == 60


def test_messages_of_an_unknown_room_or_sender_are_held_then_stored_once_linked(
    linked, contact, manager, make_customer, spool, tmp_path, asked_at
):
    stranger = make_customer(name="王强").contacts.get()
    write_spool(
        tmp_path,
        [
            text_message(1, "msg-room", CUSTOMER_ID, "请问电表在哪？", asked_at, room="wrNEWROOM"),
            text_message(2, "msg-who", "wmSTRANGER", "为什么又停电了？", asked_at),
            text_message(3, "msg-reply", STAFF_ID, "正在抢修，稍后来电。", asked_at + timedelta(minutes=5)),
        ],
    )

    report, seq = archive_pull(source=spool)

    assert (report.created, report.held, seq) == (1, 2, 3)
    held = {row.msgid: row for row in HeldArchiveMessage.objects.all()}
    assert held["msg-room"].reason == "unknown_room" and held["msg-who"].reason == "unknown_sender"
    assert held["msg-who"].payload["text"]["content"] == "为什么又停电了？"

    # The sender is linked and joins the group; nothing happens to the room yet.
    stranger.wecom_external_userid = "wmSTRANGER"
    stranger.save(update_fields=["wecom_external_userid"])
    membership_add_contact(group=linked, contact=stranger, by=manager)
    retried = archive_retry_held()

    assert (retried.read, retried.created, retried.held) == (1, 1, 0)
    late = GroupMessage.objects.get(external_id="msg-who")
    # Stored after the reply that followed it in the chat: that reply answered it.
    assert late.answer == GroupMessage.objects.get(external_id="msg-reply")
    assert late.response_seconds == 300

    # The other room becomes a known group.
    other = group_create(by=manager, name="新建台区群", kind=GroupKind.VIP, rules="文明发言。")
    ServiceGroup.objects.filter(pk=other.pk).update(external_id="wrNEWROOM")
    archive_retry_held()
    held_again = HeldArchiveMessage.objects.get()
    assert held_again.msgid == "msg-room" and held_again.reason == "refused"  # not a member of that group
    membership_add_contact(group=other, contact=contact, by=manager)
    archive_retry_held()

    assert not HeldArchiveMessage.objects.exists()
    assert GroupMessage.objects.get(external_id="msg-room").group_id == other.pk
    assert GroupMessage.objects.filter(external_id__startswith="msg-").count() == 3


def test_broken_lines_are_skipped_with_a_log_line_that_never_quotes_them(
    linked, spool, tmp_path, asked_at, caplog
):
    good = text_message(1, "msg-1", CUSTOMER_ID, "请问怎么缴费？", asked_at)
    later = text_message(4, "msg-4", STAFF_ID, "可在网上国网缴费。", asked_at + timedelta(minutes=3))
    partial = json.dumps(text_message(5, "msg-5", CUSTOMER_ID, "好的谢谢", asked_at + timedelta(minutes=4)))
    path = tmp_path / f"{1:020d}.jsonl"
    path.write_text(
        json.dumps(good, ensure_ascii=False)
        + "\n{not json 机密内容 13800138000\n"
        + json.dumps({"seq": "2", "msgid": "msg-2"})
        + "\n"
        + json.dumps([3, "列表"])
        + "\n\n"
        + json.dumps(later, ensure_ascii=False)
        + "\n"
        + partial[:40],
        encoding="utf-8",
    )
    (tmp_path / "notes.txt").write_text("not a spool file")

    with caplog.at_level(logging.WARNING, logger="groups.archive.sources"):
        report, seq = archive_pull(source=spool)

    assert (report.created, seq) == (2, 4)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"{1:020d}.jsonl:2" in logged and f"{1:020d}.jsonl:3" in logged and f"{1:020d}.jsonl:4" in logged
    assert "机密" not in logged and "13800138000" not in logged and "列表" not in logged

    # The writer finishes the last line: it is read by the next pull.
    with path.open("a", encoding="utf-8") as handle:
        handle.write(partial[40:] + "\n")
    report, seq = archive_pull(source=spool)
    assert (report.created, seq) == (1, 5)


def test_files_are_read_in_sequence_order_and_earlier_files_are_passed_over(
    linked, spool, tmp_path, asked_at
):
    write_spool(tmp_path, [text_message(5, "msg-5", CUSTOMER_ID, "第二个文件", asked_at)])
    write_spool(
        tmp_path, [text_message(seq, f"msg-{seq}", CUSTOMER_ID, "你好", asked_at) for seq in (1, 2, 3)]
    )

    first = spool.fetch(0, 2)
    rest = spool.fetch(2, 10)

    assert [message.seq for message in first] == [1, 2]
    assert [message.seq for message in rest] == [3, 5]
    assert spool.fetch(5, 10) == []
    assert SpoolSource(tmp_path / "missing").fetch(0, 10) == []


def test_one_to_one_chats_other_types_and_robots_are_skipped_and_a_recall_withdraws_the_question(
    linked, spool, tmp_path, asked_at
):
    image = text_message(3, "msg-img", CUSTOMER_ID, "", asked_at)
    image.update(msgtype="image", image={"md5sum": "x", "filesize": 1, "sdkfileid": "y"})
    del image["text"]
    recall = {
        "seq": 6,
        "msgid": "msg-recall",
        "action": "recall",
        "from": CUSTOMER_ID,
        "tolist": [],
        "roomid": ROOM,
        "msgtime": ms(asked_at + timedelta(minutes=1)),
        "msgtype": "revoke",
        "revoke": {"pre_msgid": "msg-q"},
    }
    write_spool(
        tmp_path,
        [
            text_message(1, "msg-q", CUSTOMER_ID, "请问为什么停电？", asked_at),
            text_message(2, "msg-private", CUSTOMER_ID, "私聊问一下电费？", asked_at, room=""),
            image,
            text_message(4, "msg-robot", "wbROBOT", "机器人提醒：请文明发言？", asked_at),
            {"seq": 5, "msgid": "msg-switch", "action": "switch", "time": ms(asked_at), "user": STAFF_ID},
            recall,
        ],
    )

    report, seq = archive_pull(source=spool)

    assert (report.read, report.created, report.skipped, report.recalled, seq) == (6, 1, 4, 1, 6)
    withdrawn = GroupMessage.objects.get()
    assert withdrawn.external_id == "msg-q" and withdrawn.recalled_at == asked_at + timedelta(minutes=1)
    assert not withdrawn.is_inquiry and withdrawn.response_due_at is None
    assert GroupHealth.objects.get(group=linked).unanswered_now == 0


def message_writes(context, *, keep: bool = True) -> list[str]:
    """The statements that write message rows (keep=True), or all the others."""
    writes = ('INSERT OR IGNORE INTO "groups_groupmessage"', 'INSERT INTO "groups_groupmessage"')
    writes += ('UPDATE "groups_groupmessage"',)
    return [query["sql"] for query in context.captured_queries if query["sql"].startswith(writes) == keep]


def test_a_batch_costs_the_same_queries_for_1000_messages_as_for_20(
    linked, manager, spool, tmp_path, asked_at, django_assert_max_num_queries
):
    other = group_create(by=manager, name="大工业客户群", kind=GroupKind.VIP, rules="文明发言。")
    ServiceGroup.objects.filter(pk=other.pk).update(external_id="wrOTHER")
    membership_add_contact(
        group=other, contact=linked.memberships.get(contact__isnull=False).contact, by=manager
    )

    def batch(first_seq: int, count: int) -> list[dict]:
        rows = []
        for n in range(count):
            seq = first_seq + n
            room = ROOM if n % 2 else "wrOTHER"
            at = asked_at + timedelta(seconds=n)
            if n % 4 < 2:
                rows.append(text_message(seq, f"m{seq}", CUSTOMER_ID, "请问什么时候来电？", at, room=room))
            else:
                rows.append(text_message(seq, f"m{seq}", STAFF_ID, "马上处理。", at, room=room))
        return rows

    write_spool(tmp_path, batch(1, 20) + batch(21, 1000))
    ArchiveCursor.objects.create(source="spool")
    with CaptureQueriesContext(connection) as small:
        archive_pull(source=spool, limit=20)
    # SQLite's limit of 999 variables splits the message INSERTs and UPDATEs into
    # more statements; PostgreSQL sends one of each per group.
    split = 0 if connection.vendor == "postgresql" else 2 * 2 * (500 // 20 + 1)
    cap = len(small.captured_queries) + split
    with django_assert_max_num_queries(cap), CaptureQueriesContext(connection) as large:
        report, seq = archive_pull(source=spool, limit=1000)

    assert (report.created, seq) == (1000, 1020)
    assert len(message_writes(large, keep=False)) == len(message_writes(small, keep=False))
    assert (
        not GroupMessage.objects.unanswered().filter(sent_at__lt=asked_at + timedelta(seconds=1018)).exists()
    )


def test_the_periodic_task_reads_the_configured_spool(linked, tmp_path, asked_at, settings):
    settings.WECOM_ARCHIVE_SOURCE = "spool"
    settings.WECOM_ARCHIVE_SPOOL_DIR = str(tmp_path)
    write_spool(tmp_path, [text_message(1, "msg-q1", CUSTOMER_ID, "请问如何报修？", asked_at)])

    result = pull_chat_archive()

    assert result["source"] == "spool" and result["seq"] == 1 and result["created"] == 1
    assert pull_chat_archive()["read"] == 0


def test_without_an_archive_the_periodic_task_does_nothing(settings):
    settings.WECOM_ARCHIVE_SOURCE = "none"
    assert pull_chat_archive() == {"source": "none"}
