"""WeCom one-to-one sends (客户群发, chat_type "single") that really go out.

A customer whose contact is an external contact of their manager is told by a
群发 from that manager to that contact (reach/policy.py). WeCom sends nothing
until the manager confirms the task in WeCom, so, as for group posts
(groups/services/posts.py, whose claim and task polling this reuses):

1. The fan-out (or a fallback) attaches each such record to the open
   `PersonalPost` of its notice and manager (`personal_posts_attach`, in the
   caller's transaction): one task per (notice, manager) covering all their
   contacts in that notice.
2. `personal_posts_create` claims queued posts whose notice has been fanned
   out (or that waited PERSONAL_POST_GATHER_MINUTES) and creates the task:
   add_msg_template with the manager as sender and the contacts' external
   userids. Contacts WeCom will not take (fail_list) and tasks WeCom refuses
   fail their records at once, which fall back (to SMS, a call ...), once.
3. `personal_posts_poll` asks WeCom per task (get_groupmsg_task, then
   get_groupmsg_send_result once the manager sent it): each record is reached
   (status 1) or fails and falls back (not a contact any more, over the daily
   limit, not sent). A task not confirmed within REACH_GROUP_POST_DEADLINE_MINUTES
   falls back through reach_refresh; its WeCom task is then cancelled, so the
   customer does not hear it twice.

Residual risk, as for group posts: add_msg_template takes no idempotency key;
a worker that dies between WeCom's answer and storing the msgid leaves the post
claimed with `requested_at` set, and the task is created again after the claim.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.transactions import on_commit_once
from groups.services.posts import (
    RESULT_NOT_FRIEND,
    RESULT_RECEIVED_OTHER,
    RESULT_SENT,
    MsgTaskApi,
    claim_queued,
    send_time_of,
)
from reach.models import Channel, PersonalPost, PersonalPostState, ReachNotice, ReachRecord, State
from wecom.client import WeComClient, WeComError, WeComException, WeComNotConfigured, WeComTransientError

logger = logging.getLogger(__name__)

# A post whose notice never says it was fanned out (a worker died for good) goes anyway after this.
PERSONAL_POST_GATHER_MINUTES = 10
POSTS_PER_RUN = 200
TASKS_PER_POLL = 500


def wecom_ready() -> bool:
    """A one-to-one 群发 can go out: WeCom's customer-contact API (客户联系 secret) is configured."""
    return bool(settings.WECOM_CORP_ID and settings.WECOM_CONTACT_SECRET)


def personal_posts_attach(*, notice: ReachNotice, senders: dict[int, tuple[int, str]]) -> int:
    """Attach the waiting WeCom one-to-one records of these customers (customer id →
    sender (user id, WeCom userid)) to the open post of their notice and sender, in
    the caller's transaction; returns the records attached. The open post is locked
    first, so a worker creating its task waits for this transaction and sees them."""
    by_sender: dict[tuple[int, str], list[int]] = defaultdict(list)
    for customer_id, sender in senders.items():
        by_sender[sender].append(customer_id)
    if not by_sender:
        return 0
    userids = sorted({userid for _sender_id, userid in by_sender})
    PersonalPost.objects.bulk_create(
        [
            PersonalPost(notice=notice, sender_id=sender_id, sender_userid=userid)
            for sender_id, userid in sorted(by_sender)
        ],
        ignore_conflicts=True,
    )
    open_posts = {
        post.sender_userid: post.pk
        for post in PersonalPost.objects.filter(
            notice=notice, sender_userid__in=userids, requested_at__isnull=True
        ).select_for_update()
    }
    attached = 0
    for (_sender_id, userid), customer_ids in by_sender.items():
        attached += ReachRecord.objects.filter(
            notice=notice,
            customer_id__in=customer_ids,
            channel=Channel.WECOM,
            state=State.WAITING,
            personal_post__isnull=True,
        ).update(personal_post_id=open_posts[userid])
    if notice.fanned_out_at is not None:
        on_commit_once(kick_personal_posts)
    return attached


@transaction.atomic
def reach_notice_fanned_out(*, notice: ReachNotice) -> None:
    """Every customer of the notice has a record: its WeCom one-to-one tasks may be created now."""
    ReachNotice.objects.filter(pk=notice.pk, fanned_out_at__isnull=True).update(fanned_out_at=timezone.now())
    if PersonalPost.objects.filter(notice=notice, state=PersonalPostState.QUEUED).exists():
        on_commit_once(kick_personal_posts)


def kick_personal_posts() -> None:
    """Ask a worker to create the one-to-one tasks now; beat's run does it anyway if the broker is down."""
    try:
        from core.broker import publish_once
        from reach.tasks import send_personal_posts

        publish_once(send_personal_posts)
    except Exception as exc:
        logger.warning("Could not kick the WeCom one-to-one sends (%s); beat's run will", type(exc).__name__)


# --- following the records ---------------------------------------------------------------


def _records_reached(record_ids: list[int], at: datetime) -> int:
    return ReachRecord.objects.filter(pk__in=record_ids, channel=Channel.WECOM, state=State.WAITING).update(
        state=State.REACHED, state_changed_at=timezone.now(), reached_at=at
    )


@transaction.atomic
def _records_failed(record_ids: list[int], reason: str) -> int:
    """Fail the waiting records and fall back, once (reach.services.fall_back)."""
    from reach.services import fall_back

    waiting = ReachRecord.objects.filter(pk__in=record_ids, channel=Channel.WECOM, state=State.WAITING)
    ids = list(waiting.values_list("pk", flat=True))
    if not ids:
        return 0
    ReachRecord.objects.filter(pk__in=ids).update(
        state=State.FAILED, state_changed_at=timezone.now(), state_reason=str(reason)[:200]
    )
    return fall_back(ReachRecord.objects.filter(pk__in=ids))


def _finish(post: PersonalPost, state: str, reason: str = "") -> None:
    PersonalPost.objects.filter(pk=post.pk).update(
        state=state, reason=reason[:200], claimed_until=None, finished_at=timezone.now()
    )


def _targets(post: PersonalPost) -> dict[str, list[int]]:
    """External userid → the waiting records of the post for that contact."""
    targets: dict[str, list[int]] = defaultdict(list)
    rows = post.records.filter(state=State.WAITING, channel=Channel.WECOM).values_list(
        "pk", "contact__wecom_external_userid"
    )
    for record_id, external_userid in rows:
        targets[external_userid or ""].append(record_id)
    return targets


# --- creating the tasks ----------------------------------------------------------------------


@dataclass
class CreateReport:
    tasks: int = 0
    waiting: int = 0
    not_sent: int = 0
    retry: int = 0


def personal_posts_create(
    *, now: datetime | None = None, limit: int = POSTS_PER_RUN, client: WeComClient | None = None
) -> CreateReport:
    """Create the one-to-one 群发 task of each queued post whose notice is fanned out."""
    now = now or timezone.now()
    report = CreateReport()
    gathered = now - timedelta(minutes=PERSONAL_POST_GATHER_MINUTES)
    # A subquery, not a join: the claim locks the posts only.
    fanned_out = ReachNotice.objects.filter(fanned_out_at__isnull=False).values("pk")
    ready = PersonalPost.objects.filter(Q(notice_id__in=fanned_out) | Q(created_at__lt=gathered))
    posts = list(claim_queued(ready, now, limit).select_related("notice"))
    if not posts:
        return report
    client = client or WeComClient.contact()
    for post in posts:
        # Closed to new records; waits for a fan-out that holds the post's lock.
        PersonalPost.objects.filter(pk=post.pk, requested_at__isnull=True).update(requested_at=now)
        targets = _targets(post)
        usable = sorted(userid for userid in targets if userid)
        if "" in targets:  # the contact lost its external userid meanwhile
            report.not_sent += _records_failed(targets.pop(""), _("联系人已不是企业微信外部联系人"))
        if not usable:
            _finish(post, PersonalPostState.NOT_SENT, _("没有需要发送的客户"))
            continue
        try:
            answer = client.add_msg_template(
                sender=post.sender_userid, external_userids=usable, text=post.notice.subject
            )
        except (WeComTransientError, WeComNotConfigured) as exc:
            # Left claimed: the next run after the claim tries again.
            logger.warning("WeCom one-to-one task not created yet (%s)", type(exc).__name__)
            report.retry += 1
            continue
        except WeComError as exc:
            reason = _("企业微信拒绝创建一对一群发任务（错误码 %(code)s）") % {"code": exc.errcode}
            _finish(post, PersonalPostState.NOT_SENT, reason)
            report.not_sent += _records_failed([pk for ids in targets.values() for pk in ids], reason)
            continue
        report.tasks += 1
        refused = set(answer.get("fail_list") or [])
        refused_ids = [pk for userid in refused for pk in targets.get(userid, [])]
        report.not_sent += _records_failed(refused_ids, _("企业微信未接受：客户不是该客户经理的外部联系人"))
        PersonalPost.objects.filter(pk=post.pk, state=PersonalPostState.QUEUED).update(
            state=PersonalPostState.WAITING, msgid=answer.get("msgid", ""), claimed_until=None
        )
        report.waiting += len(usable) - len(refused)
    return report


# --- polling ------------------------------------------------------------------------------------


@dataclass
class PollReport:
    tasks: int = 0
    calls: int = 0
    reached: int = 0
    not_sent: int = 0
    cancelled: int = 0


def _reason_for(status: int) -> str:
    if status == RESULT_NOT_FRIEND:
        return _("企业微信未送达：客户已不是该客户经理的外部联系人")
    if status == RESULT_RECEIVED_OTHER:
        return _("企业微信未送达：客户今天已收到其他群发")
    return _("客户经理已发送，但该客户未收到")


def personal_posts_poll(*, now: datetime | None = None, client: WeComClient | None = None) -> PollReport:
    """One cycle over the waiting one-to-one tasks: two WeCom calls per task at most."""
    now = now or timezone.now()
    report = PollReport()
    posts = list(
        PersonalPost.objects.filter(state=PersonalPostState.WAITING)
        .exclude(msgid="")
        .order_by("pk")[:TASKS_PER_POLL]
    )
    if not posts:
        return report
    api = MsgTaskApi(client or WeComClient.contact(), report)
    for post in posts:
        report.tasks += 1
        targets = _targets(post)
        try:
            results = api.sent_results(post.msgid, post.sender_userid)
        except WeComException as exc:
            logger.warning("WeCom one-to-one task state unknown this cycle (%s)", type(exc).__name__)
            continue
        if results is not None:
            _apply_results(targets, results, report)
            _finish(post, PersonalPostState.DONE)
        elif targets:
            PersonalPost.objects.filter(pk=post.pk).update(checked_at=now)
        elif _cancel(api, post):
            # Every record fell back (not confirmed in time) or was withdrawn.
            report.cancelled += 1
            _finish(post, PersonalPostState.NOT_SENT, _("已改用其他渠道或已撤回"))
    return report


def _cancel(api: MsgTaskApi, post: PersonalPost) -> bool:
    """Take the task back so the manager cannot send it any more; False to try again next cycle."""
    api.report.calls += 1
    try:
        api.client.cancel_groupmsg_send(post.msgid)
    except WeComError as exc:
        # Sent or gone meanwhile: nothing left to take back.
        logger.info("WeCom one-to-one task not cancelled: errcode %s", exc.errcode)
    except WeComException as exc:
        logger.warning("WeCom one-to-one task not cancelled this cycle (%s)", type(exc).__name__)
        return False
    return True


def _apply_results(targets: dict[str, list[int]], results: list[dict], report: PollReport) -> None:
    by_contact = {row.get("external_userid"): row for row in results}
    failed: dict[str, list[int]] = defaultdict(list)
    for external_userid, record_ids in targets.items():
        row = by_contact.get(external_userid) or {}
        status = int(row.get("status", 0))
        if status == RESULT_SENT:
            with transaction.atomic():
                report.reached += _records_reached(record_ids, send_time_of(row) or timezone.now())
        else:
            failed[_reason_for(status)].extend(record_ids)
    for reason, record_ids in failed.items():
        with transaction.atomic():
            report.not_sent += _records_failed(record_ids, reason)
