"""Posts to WeCom groups (企业群发) that really go out, and say so only when they did.

A broadcast (an outage notice is one too) to a group with a WeCom chat id
becomes a `GroupPost`: WeCom sends nothing until the group's owner confirms
the 群发 task in WeCom. So:

1. Publishing writes the posts in the business transaction (state 待创建群发任务),
   or at once 未发送 with the reason when WeCom would refuse it anyway (the
   group's monthly receiving limit is used up, the owner has no WeCom account).
2. `post_tasks_create` (a task kicked after commit, and beat) claims queued posts
   and creates ONE task per (broadcast, owner) with all that owner's chat ids
   (add_msg_template, chat_type "group"): 等待群主确认.
3. `post_states_poll` (beat) asks WeCom per task, not per group —
   get_groupmsg_task, then get_groupmsg_send_result only for tasks the owner
   has sent — and turns each post 已发送 or 未发送 with WeCom's reason. A task
   still unconfirmed after WECOM_POST_REMIND_AFTER_MINUTES gets
   remind_groupmsg_send (WeCom allows 3 in 24 h); still unconfirmed after
   WECOM_POST_ESCALATE_AFTER_MINUTES, the owner's nearest supervisors are told,
   once.

Each state change is announced with `groups.signals.group_post_state_changed`.

Residual risk, by WeCom's design: add_msg_template takes no idempotency key.
A worker that dies after WeCom created the task but before the msgid was
stored leaves the post claimed with `requested_at` set; when the claim runs
out the task is created again (the owner then sees two tasks and confirms
one). Sending twice is preferred to a notice that never goes out.
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.selectors import supervisor_chain
from core.transactions import on_commit_once
from groups.models import Broadcast, GroupPost, GroupPostState, ServiceGroup
from groups.selectors import post_month, posts_this_month
from groups.signals import group_post_state_changed
from notifications.services import NotificationDraft, notifications_enqueue_many
from wecom.client import WeComClient, WeComError, WeComException, WeComNotConfigured, WeComTransientError

logger = logging.getLogger(__name__)

CLAIM_SECONDS = 120
TASKS_PER_POLL = 500
# WeCom's send-result statuses per chat (get_groupmsg_send_result).
RESULT_UNSENT, RESULT_SENT, RESULT_NOT_FRIEND, RESULT_RECEIVED_OTHER = 0, 1, 2, 3
TASK_SENT = 2
REMIND_LIMIT_ERRCODE = 41063


def _announce(posts: list[GroupPost]) -> None:
    for post in posts:
        group_post_state_changed.send(
            sender=GroupPost,
            broadcast_id=post.broadcast_id,
            group_id=post.group_id,
            state=post.state,
            reason=post.reason,
        )


def posts_create_for(*, broadcast: Broadcast, group_ids: list[int], now: datetime) -> list[GroupPost]:
    """The posts of a broadcast being published (in its transaction); kicks the worker after commit.

    Only groups with a WeCom chat id, and only when WeCom is configured; a
    post the monthly limit or a missing owner account would make WeCom refuse
    is written 未发送 at once, so other channels can take over now."""
    return posts_create(targets=[(broadcast, group_ids)], now=now)


def posts_create(*, targets: list[tuple[Broadcast, list[int]]], now: datetime) -> list[GroupPost]:
    """`posts_create_for` for several broadcasts at once ((broadcast, group ids) in the
    order they are published), a few statements whatever their number: each post
    counts against its group's monthly limit as if the broadcasts had been published
    one after the other."""
    if not WeComClient.contact().configured:
        return []
    group_ids = sorted({group_id for _broadcast, ids in targets for group_id in ids})
    linked = ServiceGroup.objects.filter(pk__in=group_ids).exclude(external_id="").select_related("owner")
    groups = {group.pk: group for group in linked}
    if not groups:
        return []
    month = post_month(now)
    used = posts_this_month(list(groups), month)
    limit = settings.WECOM_GROUP_MONTHLY_LIMIT
    posts = []
    for broadcast, ids in targets:
        for group in (groups[group_id] for group_id in sorted(set(ids)) if group_id in groups):
            post = GroupPost(
                broadcast=broadcast,
                group=group,
                sender=group.owner,
                sender_userid=group.owner.wecom_userid,
                month=month,
                created_at=now,
            )
            if not group.owner.wecom_userid:
                post.state = GroupPostState.NOT_SENT
                post.reason = _("群主未绑定企业微信账号，无法创建群发任务")
            elif used.get(group.pk, 0) >= limit:
                post.state = GroupPostState.NOT_SENT
                post.reason = _("该群本月可接收的群发已用完（每月 %(limit)s 条）") % {"limit": limit}
            else:
                used[group.pk] = used.get(group.pk, 0) + 1
            posts.append(post)
    GroupPost.objects.bulk_create(posts, ignore_conflicts=True)
    created = list(
        GroupPost.objects.filter(
            broadcast_id__in=[broadcast.pk for broadcast, _ids in targets], group_id__in=list(groups)
        )
    )
    _announce([post for post in created if post.state == GroupPostState.NOT_SENT])
    if any(post.state == GroupPostState.QUEUED for post in created):
        on_commit_once(kick_post_tasks)
    return created


def kick_post_tasks() -> None:
    """Ask a worker to create the 群发 tasks now; beat's scan does it anyway if the broker is down."""
    try:
        from core.broker import publish_once
        from groups.tasks import create_group_post_tasks

        publish_once(create_group_post_tasks)
    except Exception as exc:
        logger.warning("Could not kick group post creation (%s); beat's scan will", type(exc).__name__)


# --- creating the tasks ----------------------------------------------------------------


def claim_queued(queryset: QuerySet, now: datetime, limit: int) -> QuerySet:
    """Claim up to `limit` queued rows of `queryset` (posts: `state`, `claimed_until`,
    `created_at`) for this run alone; returns the claimed rows. Also used for the
    one-to-one 群发 of reach."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    # A microsecond stamp of our own marks this run's claim.
    until = now + timedelta(seconds=CLAIM_SECONDS, microseconds=secrets.randbelow(10**6))
    queued = queryset.filter(free, state=GroupPostState.QUEUED)
    with transaction.atomic():
        ids = list(
            queued.order_by("created_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return queryset.none()
        queued.filter(pk__in=ids).update(claimed_until=until)
    return queryset.filter(pk__in=ids, claimed_until=until).order_by("pk")


def _claim_queued(now: datetime, limit: int) -> list[GroupPost]:
    return list(claim_queued(GroupPost.objects.all(), now, limit).select_related("broadcast", "group"))


def broadcast_text(broadcast: Broadcast) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return f"【{broadcast.get_topic_display()}】{broadcast.title}\n{broadcast.body}"


@dataclass
class CreateReport:
    tasks: int = 0
    waiting: int = 0
    not_sent: int = 0
    retry: int = 0


def post_tasks_create(*, now: datetime | None = None, limit: int = 1000, client: WeComClient | None = None):
    """Create the 群发 tasks of queued posts: one per (broadcast, owner)."""
    now = now or timezone.now()
    report = CreateReport()
    posts = _claim_queued(now, limit)
    if not posts:
        return report
    client = client or WeComClient.contact()
    batches: dict[tuple[int, str], list[GroupPost]] = defaultdict(list)
    for post in posts:
        batches[(post.broadcast_id, post.sender_userid)].append(post)
    for (_broadcast_id, sender), batch in batches.items():
        GroupPost.objects.filter(pk__in=[p.pk for p in batch]).update(requested_at=timezone.now())
        try:
            answer = client.add_msg_template(
                sender=sender,
                chat_ids=[post.group.external_id for post in batch],
                text=broadcast_text(batch[0].broadcast),
            )
        except (WeComTransientError, WeComNotConfigured) as exc:
            # Left claimed: the next run after the claim tries again.
            logger.warning("WeCom 群发 task not created yet (%s)", type(exc).__name__)
            report.retry += len(batch)
            continue
        except WeComError as exc:
            reason = _("企业微信拒绝创建群发任务（错误码 %(code)s）") % {"code": exc.errcode}
            report.not_sent += _finish(batch, GroupPostState.NOT_SENT, reason)
            continue
        report.tasks += 1
        failed = set(answer.get("fail_list") or [])
        refused = [post for post in batch if post.group.external_id in failed]
        accepted = [post for post in batch if post.group.external_id not in failed]
        report.not_sent += _finish(refused, GroupPostState.NOT_SENT, _("该群不属于群主，企业微信未接受"))
        with transaction.atomic():
            report.waiting += GroupPost.objects.filter(
                pk__in=[post.pk for post in accepted], state=GroupPostState.QUEUED
            ).update(state=GroupPostState.WAITING, msgid=answer.get("msgid", ""), claimed_until=None)
    return report


def _finish(posts: list[GroupPost], state: str, reason: str = "", sent_at: datetime | None = None) -> int:
    """Move posts to a final state (once: only from queued or waiting) and announce it."""
    if not posts:
        return 0
    with transaction.atomic():
        ids = list(
            GroupPost.objects.filter(
                pk__in=[post.pk for post in posts],
                state__in=[GroupPostState.QUEUED, GroupPostState.WAITING],
            )
            .select_for_update()
            .values_list("pk", flat=True)
        )
        GroupPost.objects.filter(pk__in=ids).update(
            state=state, reason=reason[:200], sent_at=sent_at, claimed_until=None, checked_at=timezone.now()
        )
        changed = [post for post in posts if post.pk in set(ids)]
        for post in changed:
            post.state, post.reason = state, reason
        _announce(changed)
    return len(changed)


# --- polling, reminding, escalating -------------------------------------------------------


@dataclass
class PollReport:
    tasks: int = 0
    calls: int = 0
    sent: int = 0
    not_sent: int = 0
    reminded: int = 0
    escalated: int = 0


def _reason_for(status: int) -> str:
    if status == RESULT_RECEIVED_OTHER:
        return _("该群已达到企业微信群发接收上限")
    if status == RESULT_NOT_FRIEND:
        return _("企业微信未送达（客户不是好友）")
    return _("群主已发送，但该群未收到")


class MsgTaskApi:
    """WeCom's state of one 群发 task (group or one-to-one), counting the API calls a
    poll makes (the benchmark's figure). Also used for the one-to-one 群发 of reach."""

    def __init__(self, client: WeComClient, report):
        self.client, self.report = client, report

    def task_status(self, msgid: str, sender: str) -> int:
        self.report.calls += 1
        for row in self.client.iter_groupmsg_tasks(msgid):
            if row.get("userid") == sender:
                return int(row.get("status", 0))
        return 0

    def results(self, msgid: str, sender: str) -> list[dict]:
        self.report.calls += 1
        return list(self.client.iter_groupmsg_send_results(msgid, sender))

    def sent_results(self, msgid: str, sender: str) -> list[dict] | None:
        """The per-target results once the sender has sent the task; None while they have not."""
        if self.task_status(msgid, sender) != TASK_SENT:
            return None
        return self.results(msgid, sender)


def send_time_of(row: dict) -> datetime | None:
    """A send-result row's send_time (Unix seconds) as an aware datetime."""
    send_time = int(row.get("send_time") or 0)
    return datetime.fromtimestamp(send_time, tz=timezone.get_current_timezone()) if send_time else None


def post_states_poll(*, now: datetime | None = None, client: WeComClient | None = None) -> PollReport:
    """One cycle over the waiting tasks: WeCom calls bounded by tasks, not groups."""
    now = now or timezone.now()
    report = PollReport()
    tasks = list(
        GroupPost.objects.filter(state=GroupPostState.WAITING)
        .exclude(msgid="")
        .values("msgid", "sender_userid")
        .distinct()
        .order_by("msgid")[:TASKS_PER_POLL]
    )
    if not tasks:
        return report
    api = MsgTaskApi(client or WeComClient.contact(), report)
    for task in tasks:
        msgid, sender = task["msgid"], task["sender_userid"]
        report.tasks += 1
        try:
            results = api.sent_results(msgid, sender)
            sent = results is not None
        except WeComException as exc:
            logger.warning("WeCom 群发 task state unknown this cycle (%s)", type(exc).__name__)
            continue
        posts = list(
            GroupPost.objects.filter(msgid=msgid, state=GroupPostState.WAITING).select_related(
                "group", "broadcast"
            )
        )
        if sent:
            _apply_results(posts, results, report)
        else:
            GroupPost.objects.filter(pk__in=[p.pk for p in posts]).update(checked_at=now)
            _remind_or_escalate(api.client, msgid, posts, now, report)
    return report


def _apply_results(posts: list[GroupPost], results: list[dict], report: PollReport) -> None:
    """The owner sent the task: each group's row says whether it got it. Posts with the
    same outcome are finished together (a few queries per task, not per group)."""
    by_chat = {row.get("chat_id"): row for row in results}
    outcomes: dict[tuple, list[GroupPost]] = defaultdict(list)
    for post in posts:
        row = by_chat.get(post.group.external_id) or {}
        status = int(row.get("status", RESULT_UNSENT))
        if status == RESULT_SENT:
            outcomes[(GroupPostState.SENT, "", send_time_of(row))].append(post)
        else:
            outcomes[(GroupPostState.NOT_SENT, _reason_for(status), None)].append(post)
    for (state, reason, sent_at), batch in outcomes.items():
        finished = _finish(
            batch, state, reason, sent_at or timezone.now() if state == GroupPostState.SENT else None
        )
        if state == GroupPostState.SENT:
            report.sent += finished
        else:
            report.not_sent += finished


def _remind_or_escalate(
    client: WeComClient, msgid: str, posts: list[GroupPost], now: datetime, report: PollReport
) -> None:
    if not posts:
        return
    first = min(post.requested_at or post.created_at for post in posts)
    remind_after = timedelta(minutes=settings.WECOM_POST_REMIND_AFTER_MINUTES)
    last_reminded = max((post.reminded_at for post in posts if post.reminded_at), default=None)
    reminders = max(post.reminders for post in posts)
    recent = reminders if last_reminded and last_reminded > now - timedelta(hours=24) else 0
    due = now - (last_reminded or first) >= remind_after
    if due and recent < 3:
        report.calls += 1
        try:
            client.remind_groupmsg_send(msgid)
        except WeComError as exc:
            if exc.errcode != REMIND_LIMIT_ERRCODE:
                logger.warning("WeCom refused the 群发 reminder: errcode %s", exc.errcode)
            reminders = 3
        except WeComException as exc:
            logger.warning("WeCom 群发 reminder not sent this cycle (%s)", type(exc).__name__)
        else:
            reminders += 1
            report.reminded += 1
        GroupPost.objects.filter(pk__in=[p.pk for p in posts]).update(reminders=reminders, reminded_at=now)
    if now - first >= timedelta(minutes=settings.WECOM_POST_ESCALATE_AFTER_MINUTES):
        report.escalated += _escalate([post for post in posts if post.escalated_at is None], now)


def _escalate(posts: list[GroupPost], now: datetime) -> int:
    """Tell the owner's nearest supervisors, once per task and group."""
    if not posts:
        return 0
    chain = supervisor_chain()
    groups = {
        group.pk: group
        for group in ServiceGroup.objects.filter(pk__in=[p.group_id for p in posts]).select_related(
            "org_unit", "owner"
        )
    }
    drafts = []
    with translation.override(settings.LANGUAGE_CODE):
        for post in posts:
            group = groups[post.group_id]
            levels = chain(group.org_unit.path)
            for supervisor_id in levels[0] if levels else []:
                drafts.append(
                    NotificationDraft(
                        dedupe_key=f"grouppost:{post.pk}:escalated:{supervisor_id}",
                        subject=_("群主%(owner)s尚未在企业微信确认发送群发“%(title)s”（%(group)s）")
                        % {"owner": group.owner, "title": post.broadcast.title, "group": group.name},
                        body=_("已提醒群主 %(n)s 次；请督促群主在企业微信中确认发送。")
                        % {"n": post.reminders},
                        recipient_id=supervisor_id,
                        link=reverse("groups:broadcast_detail", args=[post.broadcast_id]),
                    )
                )
    with transaction.atomic():
        notifications_enqueue_many(drafts)
        return GroupPost.objects.filter(pk__in=[p.pk for p in posts], escalated_at__isnull=True).update(
            escalated_at=now
        )
