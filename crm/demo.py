"""The rest of the demo (seed_activity): outages with their notices and reach, reply
templates, contact logs, today's visits, broadcasts, a commitment due today and the
call list — so that every page shows something on first start.

Everything goes through the services production uses; the outage notices are fanned
out by `fan_out_due`, the long-outage visits made by `long_outage_scan`, as the
worker would. Only moments are moved afterwards (a restoration two days ago, a visit
done this morning), as seed_activity's Timeline does for work orders. Reproducible
with the same random generator; times follow the clock of the run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import User
from customers.interactions.services import interaction_log
from customers.models import Customer, District, Interaction, Line, Visit
from customers.visits.services import visit_complete, visit_schedule
from groups.models import BroadcastTopic, ReplyCategory
from groups.selectors import broadcast_groups_for
from groups.services.broadcasts import broadcast_create
from groups.services.reply_templates import reply_template_create
from outages.models import Outage, OutageKind, OutageNotice
from outages.services import (
    fan_out_due,
    long_outage_scan,
    outage_create,
    outage_publish,
    outage_restore,
)
from tickets import services as ticket_services
from tickets.models import Category, Kind, Source

TEMPLATES = (
    (
        ReplyCategory.OUTAGE,
        "故障停电安抚",
        "您好，给您带来不便非常抱歉！抢修人员已在赶往现场，预计恢复时间会在群里第一时间通知。",
    ),
    (
        ReplyCategory.OUTAGE,
        "计划停电说明",
        "您好，本次为计划检修停电，停电时间和范围已提前公告，检修完成后立即恢复送电。",
    ),
    (
        ReplyCategory.BILLING,
        "电费偏高解释",
        "您好，电费按阶梯电价计算，本月用电量较上月增加，明细可在“南网在线”查询，我也可以帮您核对。",
    ),
    (
        ReplyCategory.BILLING,
        "缴费渠道",
        "您好，可通过“南网在线”APP、微信公众号、营业厅或银行代扣缴费，欠费请尽快缴清以免影响用电。",
    ),
    (
        ReplyCategory.EXPANSION,
        "充电桩报装",
        "您好，个人充电桩报装需身份证、车位产权或使用证明及物业同意书，提交后我们三个工作日内上门勘查。",
    ),
    (
        ReplyCategory.SAFETY,
        "电动车充电安全",
        "您好，请勿在楼道、室内给电动车充电，充电时间不宜过长，发现异常请立即断电。",
    ),
    (ReplyCategory.CHANNELS, "服务热线", "您好，24小时供电服务热线95598，紧急停电和安全隐患请直接拨打。"),
    (
        ReplyCategory.SOOTHING,
        "情绪安抚",
        "非常理解您的心情，给您添麻烦了。我这就帮您跟进，处理结果会第一时间告诉您。",
    ),
)

CONTACTS = (
    (
        Interaction.Channel.PHONE,
        Interaction.Direction.INBOUND,
        "客户来电询问本月电费构成，已逐项解释，客户表示理解。",
    ),
    (
        Interaction.Channel.PHONE,
        Interaction.Direction.OUTBOUND,
        "电话告知下周计划停电时间和范围，提醒提前做好准备。",
    ),
    (
        Interaction.Channel.WECHAT_PRIVATE,
        Interaction.Direction.OUTBOUND,
        "微信私聊回访上次报修处理情况，客户满意。",
    ),
    (Interaction.Channel.VISIT, Interaction.Direction.OUTBOUND, "上门核实档案信息，更新了联系人电话。"),
    (
        Interaction.Channel.HALL,
        Interaction.Direction.INBOUND,
        "客户到营业厅咨询充电桩报装流程，已提供材料清单。",
    ),
    (Interaction.Channel.PHONE, Interaction.Direction.INBOUND, "客户反映晚高峰电压偏低，已登记并安排测量。"),
    (
        Interaction.Channel.WECHAT_GROUP,
        Interaction.Direction.INBOUND,
        "客户在群内询问停电原因，已在群内答复并私聊说明。",
    ),
    (Interaction.Channel.SMS, Interaction.Direction.OUTBOUND, "短信提醒客户电费即将到期，请按时缴纳。"),
)
FOLLOW_UP = "客户希望有结果后再电话告知，需跟进。"

VISITS = (
    # (hour, minute, purpose, cause, solution, done outcome or "")
    (
        9,
        0,
        Visit.Purpose.ROUTINE,
        "敏感客户例行走访，了解近期用电情况。",
        "带上近三个月电费明细。",
        "客户用电正常，无新诉求。",
    ),
    (
        10,
        30,
        Visit.Purpose.ARCHIVE_CHECK,
        "档案联系人电话空号，需现场核实。",
        "核对户主身份证并更新联系人。",
        "已更新联系人电话，档案核实完成。",
    ),
    (
        14,
        0,
        Visit.Purpose.COMPLAINT_FOLLOW_UP,
        "客户投诉停电时间过长，跟进整改情况。",
        "说明线路改造计划，征求意见。",
        "",
    ),
    (16, 30, Visit.Purpose.ROUTINE, "重要客户季度走访。", "了解下季度用电负荷变化。", ""),
)


@dataclass
class Shown:
    """What the showcase made, for the command's summary line."""

    outages: int = 0
    notices_sent: int = 0
    templates: int = 0
    contacts: int = 0
    visits: int = 0
    broadcasts: int = 0
    promises: int = 0
    extra: dict = field(default_factory=dict)


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def _managers_districts(manager: User) -> list[District]:
    """The demo manager's districts, those with the most customers to phone in an urgent outage first
    (high-sensitivity customers, residents without a mobile)."""
    callable_ = Q(customers__is_high_sensitivity=True) | Q(
        customers__kind=Customer.Kind.RESIDENT, customers__contacts__mobile=""
    )
    return list(
        District.objects.filter(manager=manager)
        .annotate(calls=Count("customers", filter=callable_, distinct=True))
        .order_by("-calls", "code")
    )


def seed_showcase(rng: random.Random, *, manager: User) -> Shown:
    shown = Shown()
    now = timezone.now()
    supervisor = User.objects.filter(role=User.Role.SUPERVISOR).order_by("org_unit__path", "id").first()
    shown.templates = _templates(manager, supervisor)
    shown.outages, shown.notices_sent = _outages(rng, manager, supervisor, now)
    shown.contacts = _contact_logs(rng, manager, now)
    shown.visits = _visits(rng, manager, now)
    shown.broadcasts = _broadcasts(manager, now)
    shown.promises = _promise(rng, manager, now)
    return shown


def _templates(manager: User, supervisor: User | None) -> int:
    made = 0
    for index, (category, title, body) in enumerate(TEMPLATES):
        # The supervisor shares most with the whole prefecture; the manager keeps two for the station.
        author = supervisor if supervisor is not None and index < len(TEMPLATES) - 2 else manager
        reply_template_create(by=author, title=title, body=body, category=category)
        made += 1
    return made


def _outages(rng: random.Random, manager: User, supervisor: User | None, now: datetime) -> tuple[int, int]:
    """A planned outage in three days (published: its notices wait for their time), a fault
    on the demo manager's district since five hours (notices sent, call tasks, the on-site
    visit of a long outage), and a fault on a line of another station restored two days ago."""
    districts = _managers_districts(manager)
    if not districts:
        return 0, 0
    today = timezone.localdate(now)
    fault_district = districts[0]
    planned_district = districts[1] if len(districts) > 1 else districts[0]
    planned = outage_create(
        by=manager,
        kind=OutageKind.PLANNED,
        reason="10kV线路检修，更换老旧导线及绝缘子",
        districts=[planned_district],
        planned_start=_local(today + timedelta(days=3), 8, 30),
        planned_end=_local(today + timedelta(days=3), 17, 30),
    )
    outage_publish(outage=planned, by=manager)

    fault = outage_create(
        by=manager,
        kind=OutageKind.FAULT,
        reason="雷击造成配变跌落式熔断器熔断，正在抢修",
        districts=[fault_district],
        actual_start=now - timedelta(hours=5, minutes=rng.randrange(0, 40)),
        estimated_restoration=now + timedelta(hours=2),
    )
    outage_publish(outage=fault, by=manager)

    # A line of another county: the prefecture's supervisor registers it.
    restored_line = (
        Line.objects.filter(voltage_kv=10)
        .exclude(station__path__startswith=manager.org_unit.parent.path)
        .order_by("code")
        .first()
    )
    restored = None
    if restored_line is not None and supervisor is not None:
        started = now - timedelta(days=2, hours=rng.randrange(2, 6))
        restored = outage_create(
            by=supervisor,
            kind=OutageKind.FAULT,
            reason="大风导致树枝搭线，线路跳闸",
            lines=[restored_line],
            actual_start=started,
            estimated_restoration=started + timedelta(hours=4),
        )
        outage_publish(outage=restored, by=supervisor)

    # What the worker's minute scans do: the start notices of both faults go out; the
    # restoration is told; the fault still on for five hours gets its on-site visit.
    sent = fan_out_due(now=timezone.now())
    if restored is not None:
        ended = restored.actual_start + timedelta(hours=3, minutes=rng.randrange(0, 50))
        outage_restore(outage=restored, by=supervisor, at=ended)
        sent += fan_out_due(now=timezone.now())
        _move_notices(restored, {OutageNotice.START: restored.actual_start, OutageNotice.RESTORED: ended})
    long_outage_scan(now=timezone.now())
    return Outage.objects.count(), sent


def _move_notices(outage: Outage, moments: dict[str, datetime]) -> None:
    """The notices of an outage seeded in the past went out when it happened."""
    outage.refresh_from_db()
    for kind, moment in moments.items():
        OutageNotice.objects.filter(outage=outage, kind=kind).update(
            due_at=moment, fanned_out_at=moment + timedelta(minutes=1)
        )
    Outage.objects.filter(pk=outage.pk).update(published_at=outage.actual_start + timedelta(minutes=5))


def _contact_logs(rng: random.Random, manager: User, now: datetime) -> int:
    """Contact logs over the last three weeks for the account managers of the demo manager's
    county; a few want a follow-up, some of them due by now."""
    staff = list(
        User.objects.filter(
            role=User.Role.ACCOUNT_MANAGER, org_unit__path__startswith=manager.org_unit.parent.path
        ).order_by("username")[:8]
    )
    today = timezone.localdate(now)
    made = 0
    for person in staff:
        customers = list(Customer.objects.filter(manager=person).order_by("number")[:40])
        if not customers:
            continue
        for n in range(12 if person.pk == manager.pk else rng.randrange(4, 9)):
            channel, direction, summary = rng.choice(CONTACTS)
            occurred = now - timedelta(days=rng.uniform(0.1, 21))
            follow_up = None
            if rng.random() < 0.3 or (person.pk == manager.pk and n < 3):
                summary = f"{summary}{FOLLOW_UP}"
                follow_up = max(timezone.localdate(occurred), today - timedelta(days=rng.randrange(0, 3)))
            interaction_log(
                customer=rng.choice(customers),
                staff=person,
                channel=channel,
                direction=direction,
                occurred_at=occurred,
                summary=summary,
                mood=rng.choice([Interaction.Mood.CALM] * 5 + [Interaction.Mood.DISSATISFIED]),
                next_follow_up=follow_up,
                step_listen=True,
                step_find_cause=rng.random() < 0.7,
                step_solution=rng.random() < 0.6,
            )
            made += 1
    return made


def _visits(rng: random.Random, manager: User, now: datetime) -> int:
    """Today's visits of the demo manager: those of the morning done, the afternoon's still to come."""
    today = timezone.localdate(now)
    day_start = _local(today, 0)
    customers = list(
        Customer.objects.filter(manager=manager).order_by("-vip_tier", "-is_important", "number")[
            : len(VISITS)
        ]
    )
    made = 0
    for index, ((hour, minute, purpose, cause, solution, outcome), customer) in enumerate(
        zip(VISITS, customers, strict=False)
    ):
        moment = _local(today, hour, minute)
        if outcome and moment >= now:
            # Seeded early in the morning: the visits already made were made earlier today.
            moment = day_start + (now - day_start) * (index + 1) / 4
        visit = visit_schedule(
            customer=customer,
            staff=manager,
            purpose=purpose,
            scheduled_at=max(moment, now + timedelta(minutes=1)),
            created_by=manager,
            prep_basics_reviewed=True,
            prep_cause=cause,
            prep_solution=solution,
        )
        if moment < now:
            Visit.objects.filter(pk=visit.pk).update(scheduled_at=moment)
            visit.scheduled_at = moment
        if outcome:
            done = min(moment + timedelta(minutes=rng.randrange(20, 50)), now)
            visit_complete(visit=visit, user=manager, outcome=outcome, done_at=done)
        made += 1
    return made


def _broadcasts(manager: User, now: datetime) -> int:
    """A broadcast the demo manager sent to their groups this morning, and one waiting for tomorrow."""
    groups = list(broadcast_groups_for(manager).filter(owner=manager)[:2]) or list(
        broadcast_groups_for(manager)[:1]
    )
    if not groups:
        return 0
    broadcast_create(
        by=manager,
        topic=BroadcastTopic.SAFETY,
        title="夏季安全用电提醒",
        body="近期雷雨天气较多，请勿在大树、电杆下避雨；发现电线断落请远离并拨打95598。",
        groups=groups,
    )
    tomorrow = timezone.localdate(now) + timedelta(days=1)
    broadcast_create(
        by=manager,
        topic=BroadcastTopic.CHANNELS,
        title="“南网在线”缴费指引",
        body="关注“南网在线”即可查询电费、在线缴费、办理业务，足不出户更方便。",
        groups=groups,
        scheduled_at=_local(tomorrow, 9, 0),
    )
    return 2


def _promise(rng: random.Random, manager: User, now: datetime) -> int:
    """An order the demo manager resolved three days ago with a service commitment due today."""
    from crm.management.commands.seed_activity import Timeline

    customer = Customer.objects.filter(manager=manager, contacts__isnull=False).order_by("number").first()
    if customer is None:
        return 0
    timeline = Timeline()
    ticket, _created = timeline.step(
        lambda: ticket_services.ticket_create(
            customer=customer,
            opened_by=manager,
            kind=Kind.REPAIR,
            category=Category.SUPPLY_QUALITY,
            source=Source.PHONE,
            title="电压偏低，水泵无法启动",
            description="客户反映晚高峰电压偏低，水泵无法启动，影响灌溉。",
            assignee=manager,
            how="测量电压并调整配变档位",
        )
    )
    timeline.start_at(timedelta(days=3, hours=rng.randrange(1, 5)))
    timeline.step(lambda: ticket_services.ticket_sign(ticket=ticket, by=manager), after=timedelta(minutes=9))
    timeline.step(
        lambda: ticket_services.ticket_start(ticket=ticket, by=manager), after=timedelta(minutes=25)
    )
    timeline.step(
        lambda: ticket_services.ticket_resolve(
            ticket=ticket,
            by=manager,
            resolution="已调整配变分接头，电压恢复正常；台区增容需另行施工。",
            commitment="台区增容改造完成后电话告知客户并回访电压情况",
            commitment_due=timezone.localdate(now),
        ),
        after=timedelta(hours=5),
    )
    timeline.place(ticket)
    return 1
