"""Demo activity on top of `seed_demo`'s archive: work orders in every state,
service groups with answered and waiting questions, and (crm.demo) outages, reply
templates, contact logs, visits, broadcasts, a commitment and call tasks, so that
every page has something to show.

Everything goes through the services, as in production (timeline events,
notifications, deadlines, the customer's own rating by the survey link), then each
step is moved back to the moment it stands for: orders are signed within minutes
to hours and resolved within hours to days, some near their deadline and some
overdue; a few are rated 不满意, reopened, resolved again and rated again.
Reproducible with the same --seed.
"""

import math
import random
from datetime import timedelta
from functools import partial

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import OrgUnit, User
from accounts.selectors import nearest_supervisors
from crm.demo import seed_showcase
from customers.models import Customer, District
from groups.health import inquiry_reminder_scan
from groups.models import GroupKind, ServiceGroup
from groups.services.groups import group_create
from groups.services.members import group_add_district_customers
from groups.services.messages import message_post, reply_post
from tickets import services as ticket_services
from tickets.models import Category, Kind, Resolution, ReturnVisit, Source, Ticket, TicketEvent, Urgency
from tickets.survey import survey_token

ORDERS = 150
GROUPS_PER_STATION = 2

# (kind, category, title, description) a customer would call about.
CASES = (
    (Kind.REPAIR, Category.OUTAGE, "家中突然停电", "客户反映家中全部停电，邻居家有电，请尽快派人检查。"),
    (Kind.REPAIR, Category.SUPPLY_QUALITY, "电压偏低，空调无法启动", "晚高峰电压低，空调和水泵无法启动。"),
    (Kind.REPAIR, Category.METERING, "电表显示异常", "电能表屏幕不亮，担心计量不准。"),
    (Kind.COMPLAINT, Category.BILLING, "本月电费明显偏高", "客户认为本月电费比往月高出一倍，要求核查。"),
    (Kind.COMPLAINT, Category.OUTAGE, "停电时间过长", "昨晚停电超过六小时，没有收到任何通知。"),
    (Kind.COMPLAINT, Category.ATTITUDE, "营业厅服务态度差", "客户反映营业厅工作人员态度生硬。"),
    (Kind.INQUIRY, Category.BILLING, "咨询阶梯电价", "客户咨询阶梯电价的计算方式和分档标准。"),
    (Kind.INQUIRY, Category.SAFETY, "咨询电动车充电安全", "客户咨询楼道内给电动车充电的安全规定。"),
    (Kind.EXPANSION, Category.EXPANSION, "新装充电桩", "客户申请在自家车位安装交流充电桩。"),
    (Kind.SUGGESTION, Category.OTHER, "建议增加停电短信提醒", "客户建议计划停电提前三天短信通知。"),
)
INQUIRIES = (
    "请问今天下午为什么停电？什么时候能来电？",
    "这个月电费怎么比上个月多这么多？",
    "家里电压不稳，灯一闪一闪的，怎么办？",
    "想给家里装个充电桩，需要准备什么材料？",
    "微信上怎么绑定户号交电费？",
)
REPLIES = (
    "您好，已安排抢修人员前往检查，预计一小时内到达，请耐心等待。",
    "您好，已帮您查询，本月用电量增加较多，明细已私信发给您。",
    "您好，请先检查家中空气开关，我们也会安排人员上门测量电压。",
)


class Command(BaseCommand):
    help = "Add demo work orders and service groups to the demo archive (run after seed_demo)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2024, help="random seed (default 2024)")
        parser.add_argument("--orders", type=int, default=ORDERS, help=f"work orders (default {ORDERS})")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when any work order exists")

    def handle(self, *args, seed: int, orders: int, if_empty: bool, **options):
        if if_empty and (Ticket.objects.exists() or ServiceGroup.objects.exists()):
            self.stdout.write("Work orders or groups exist already; no activity seeded.")
            return
        rng = random.Random(seed)
        stations = list(OrgUnit.objects.filter(level=OrgUnit.Level.STATION).order_by("code"))
        if not stations:
            self.stdout.write("No stations: run seed_demo first.")
            return
        staff = {
            s.pk: list(User.objects.filter(org_unit=s, role=User.Role.ACCOUNT_MANAGER).order_by("id"))
            for s in stations
        }
        supervisors = list(User.objects.filter(role=User.Role.SUPERVISOR).order_by("id"))
        manager = User.objects.filter(username="manager").first() or next(
            (people[0] for people in staff.values() if people), None
        )
        # One transaction: each kick a service asks for after commit (deliver the outbox,
        # create the posts) is sent once at the end, not once per row (core.transactions).
        with transaction.atomic():
            groups = self.seed_groups(rng, stations, staff)
            made = self.seed_orders(rng, stations, staff, supervisors, orders)
            shown = seed_showcase(rng, manager=manager) if manager else None
        self.stdout.write(
            self.style.SUCCESS(f"Seeded {made} work orders and {groups} service groups (seed {seed}).")
        )
        if shown:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Seeded {shown.outages} outages ({shown.notices_sent} notices sent), "
                    f"{shown.templates} reply templates, {shown.contacts} contact logs, "
                    f"{shown.visits} visits today, {shown.broadcasts} broadcasts "
                    f"and {shown.promises} commitment due today."
                )
            )

    def seed_groups(self, rng: random.Random, stations, staff) -> int:
        count = 0
        now = timezone.now()
        answers = []
        for station in stations:
            managers = staff[station.pk]
            if not managers:
                continue
            for district in District.objects.filter(station=station).order_by("code")[:GROUPS_PER_STATION]:
                owner = (
                    district.manager
                    if district.manager_id and district.manager.org_unit_id == station.pk
                    else managers[0]
                )
                group = group_create(
                    by=owner,
                    name=f"{district.name}客户服务群",
                    kind=GroupKind.DISTRICT,
                    district=district,
                    rules="文明发言，不发广告；用电问题请@客户经理，紧急停电请拨打95598。",
                    announcement="计划停电信息将提前在群内通知，请留意。",
                )
                group_add_district_customers(group=group, by=owner)
                contacts = list(group.memberships.filter(contact__isnull=False).select_related("contact")[:6])
                for index, membership in enumerate(contacts[:4]):
                    asked = now - timedelta(hours=rng.uniform(0.2, 30))
                    inquiry, _created = message_post(
                        group=group,
                        contact=membership.contact,
                        text=rng.choice(INQUIRIES),
                        sent_at=asked,
                        is_inquiry=True,
                    )
                    if index % 2 == 0:  # half answered, half still waiting
                        answers.append(
                            partial(
                                reply_post,
                                group=group,
                                by=owner,
                                text=rng.choice(REPLIES),
                                inquiry=inquiry,
                                sent_at=min(now, asked + timedelta(minutes=rng.uniform(3, 90))),
                            )
                        )
                count += 1
        # The reminders the worker's scan would have sent while the questions waited; the
        # answers then settle theirs, as a reply does in production.
        inquiry_reminder_scan(now=now)
        for answer in answers:
            answer()
        return count

    def seed_orders(self, rng: random.Random, stations, staff, supervisors, orders: int) -> int:
        customers = list(
            Customer.objects.filter(contacts__isnull=False, station__in=stations)
            .distinct()
            .order_by("id")[:2000]
        )
        made = 0
        for _ in range(orders):
            customer = rng.choice(customers)
            managers = staff.get(customer.station_id) or []
            if not managers:
                continue
            assignee = customer.manager if customer.manager in managers else rng.choice(managers)
            kind, category, title, description = rng.choice(CASES)
            timeline = Timeline()
            ticket, _created = timeline.step(
                partial(
                    ticket_services.ticket_create,
                    customer=customer,
                    opened_by=assignee,
                    kind=kind,
                    category=category,
                    source=rng.choice(
                        [Source.HOTLINE_95598] * 3 + [Source.PHONE, Source.WECHAT_GROUP, Source.SERVICE_HALL]
                    ),
                    urgency=rng.choice([Urgency.NORMAL] * 6 + [Urgency.URGENT, Urgency.CRITICAL]),
                    title=title,
                    description=description,
                    assignee=assignee,
                    how="尽快处理并电话告知结果",
                )
            )
            self.advance(rng, timeline, ticket, assignee)
            timeline.place(ticket)
            made += 1
        return made

    def advance(self, rng: random.Random, timeline: "Timeline", ticket: Ticket, assignee: User) -> None:
        """Carry the order some way along its lifecycle, as people would and as long as
        they take: signed within minutes to hours, resolved within hours to days,
        visited a day or so later; most in time, some near the deadline, a few overdue.
        The steps run now and are then moved to those moments (Timeline)."""
        stage = rng.random()
        sign_allowed = ticket.sign_due_at - ticket.created_at
        resolve_allowed = ticket.resolve_due_at - ticket.created_at
        if stage < 0.3:
            # Dispatched, waiting to be signed for, some way into the time to sign.
            timeline.start_at(sign_allowed * rng.uniform(0, 1.2))
            return
        to_sign = _minutes(rng.lognormvariate(math.log(12), 0.9), low=1, high=6 * 60)
        if stage < 0.62:
            # Signed (and maybe started), some way into the time to resolve.
            age = max(resolve_allowed * rng.uniform(0, 1.2), to_sign * 2)
            timeline.start_at(age)
            timeline.step(lambda: ticket_services.ticket_sign(ticket=ticket, by=assignee), after=to_sign)
            if stage >= 0.5:
                timeline.step(
                    lambda: ticket_services.ticket_start(ticket=ticket, by=assignee),
                    after=min(timedelta(minutes=rng.uniform(1, 30)), (age - to_sign) / 2),
                )
            return
        # Resolved: the time to resolve runs from a few hours to a few days, complaints longer.
        typical = resolve_allowed.total_seconds() / 3600 * 0.35
        to_resolve = max(
            _hours(rng.lognormvariate(math.log(max(typical, 1)), 0.8), high=10 * 24),
            to_sign + timedelta(minutes=30),
        )
        visit = stage >= 0.8
        gap = _hours(rng.uniform(1, 30)) if visit else timedelta(0)
        dissatisfied = visit and rng.random() < 0.12
        again = _hours(rng.uniform(2, 72)) + _hours(rng.uniform(1, 30)) if dissatisfied else timedelta(0)
        # Spread over the last four weeks so that each period of the dashboard has its own orders.
        timeline.start_at(to_resolve + gap + again + _hours(rng.uniform(0, 26 * 24 if visit else 48)))
        timeline.step(lambda: ticket_services.ticket_sign(ticket=ticket, by=assignee), after=to_sign)
        timeline.step(
            lambda: ticket_services.ticket_start(ticket=ticket, by=assignee),
            after=_minutes(rng.uniform(1, 20)),
        )
        timeline.step(
            lambda: ticket_services.ticket_resolve(
                ticket=ticket, by=assignee, resolution="已现场处理并向客户解释，客户认可。"
            ),
            at=to_resolve,
        )
        if not visit:
            return
        if dissatisfied:
            self.visit(rng, timeline, ticket, ReturnVisit.Result.DISSATISFIED, after=gap)
            # Reopened: resolved again, and asked again.
            timeline.step(
                lambda: ticket_services.ticket_resolve(
                    ticket=ticket, by=assignee, resolution="已再次上门处理，问题已彻底解决。"
                ),
                after=again - _hours(1),
            )
            self.visit(
                rng, timeline, ticket, rng.choice(SATISFIED_AGAIN), after=_hours(rng.uniform(0.2, 0.9))
            )
            return
        result = rng.choice([ReturnVisit.Result.SATISFIED] * 6 + [ReturnVisit.Result.BASICALLY] * 3)
        self.visit(rng, timeline, ticket, result, after=gap)

    def visit(self, rng: random.Random, timeline: "Timeline", ticket: Ticket, result: str, *, after) -> None:
        """The customer's own rating (自助评价) by the survey link, or a supervisor's return
        visit: never the handler's own (tickets.permissions)."""
        visitor = next(iter(nearest_supervisors(ticket.org_unit)), None)
        if visitor is None or rng.random() < 0.4:
            pending = ticket.return_visits.filter(visited_at__isnull=True).order_by("due_at").first()
            token = survey_token(pending.pk)
            timeline.step(
                lambda: ticket_services.ticket_rate_by_customer(token=token, result=result), after=after
            )
            return
        timeline.step(
            lambda: ticket_services.ticket_record_return_visit(
                ticket=ticket, by=visitor, method="phone", result=result
            ),
            after=after,
        )


SATISFIED_AGAIN = (ReturnVisit.Result.SATISFIED, ReturnVisit.Result.SATISFIED, ReturnVisit.Result.BASICALLY)


def _minutes(value: float, low: float = 0, high: float | None = None) -> timedelta:
    value = max(value, low)
    return timedelta(minutes=min(value, high) if high is not None else value)


def _hours(value: float, high: float | None = None) -> timedelta:
    return timedelta(hours=min(value, high) if high is not None else value)


# The moments each step writes on the order and its rows.
TICKET_MOMENTS = (
    "created_at", "sign_warn_at", "sign_due_at", "resolve_warn_at", "resolve_due_at",
    "next_escalation_at", "signed_at", "resolved_at",
)  # fmt: skip


class Timeline:
    """An order's steps, carried out now through the services and then moved to the
    moments they stand for, so that the demo's durations run from minutes to days.

    `start_at(age)` places the order's acceptance `age` ago; each `step` happens
    `after` the previous one (or `at` a time after acceptance). Every moment a step
    writes (the order's deadlines and times, its timeline events, its return visits
    and resolutions) is shifted by the distance between when it ran and its moment.
    """

    def __init__(self):
        self.opened = timezone.now()
        self.moments: list = []  # the moment of each step
        self.shifts: list = []  # how far each step ran after its moment
        self.events: list[int] = []  # the last event id before each step
        self.owner: dict[str, int] = {}  # the step that last wrote each moment of the order
        self.visits: dict[int, int] = {}  # return visit id → the step that made it
        self.visited: dict[int, int] = {}  # return visit id → the step that recorded it
        self.resolutions: dict[int, int] = {}
        self.ticket_pk = None

    def start_at(self, age: timedelta) -> None:
        self.moments[0] = self.opened - age

    def step(self, action, *, after: timedelta | None = None, at: timedelta | None = None):
        index = len(self.moments)
        if index == 0:
            moment = self.opened
        elif at is not None:
            moment = self.moments[0] + at
        else:
            moment = self.moments[-1] + (after or timedelta(0))
        self.events.append(TicketEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0)
        before = self._snapshot()
        ran = timezone.now()
        result = action()
        if self.ticket_pk is None:
            self.ticket_pk = result[0].pk
        after_step = self._snapshot()
        for name in TICKET_MOMENTS:
            if after_step["ticket"].get(name) != before["ticket"].get(name):
                self.owner[name] = index
        for pk in after_step["visits"].keys() - before["visits"].keys():
            self.visits[pk] = index
        for pk, visited_at in after_step["visits"].items():
            if visited_at is not None and before["visits"].get(pk) is None:
                self.visited[pk] = index
        for pk in after_step["resolutions"] - before["resolutions"]:
            self.resolutions[pk] = index
        self.moments.append(moment)
        self.shifts.append(ran)
        return result

    def _snapshot(self) -> dict:
        if self.ticket_pk is None:
            return {"ticket": {}, "visits": {}, "resolutions": set()}
        return {
            "ticket": Ticket.objects.filter(pk=self.ticket_pk).values(*TICKET_MOMENTS).get(),
            "visits": dict(
                ReturnVisit.objects.filter(ticket_id=self.ticket_pk).values_list("id", "visited_at")
            ),
            "resolutions": set(
                Resolution.objects.filter(ticket_id=self.ticket_pk).values_list("id", flat=True)
            ),
        }

    def place(self, ticket: Ticket) -> None:
        """Move every moment the steps wrote to the moment of its step."""
        shift = [ran - moment for ran, moment in zip(self.shifts, self.moments, strict=True)]
        Ticket.objects.filter(pk=ticket.pk).update(
            **{name: F(name) - shift[index] for name, index in self.owner.items()}
        )
        bounds = [*self.events[1:], None]
        for index, (first, last) in enumerate(zip(self.events, bounds, strict=True)):
            events = TicketEvent.objects.filter(ticket=ticket, id__gt=first)
            if last is not None:
                events = events.filter(id__lte=last)
            events.update(created_at=F("created_at") - shift[index])
        for pk, index in self.visits.items():
            ReturnVisit.objects.filter(pk=pk).update(
                due_at=F("due_at") - shift[index], created_at=F("created_at") - shift[index]
            )
        for pk, index in self.visited.items():
            ReturnVisit.objects.filter(pk=pk).update(visited_at=F("visited_at") - shift[index])
        for pk, index in self.resolutions.items():
            Resolution.objects.filter(pk=pk).update(resolved_at=F("resolved_at") - shift[index])
