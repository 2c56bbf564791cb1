"""Demo activity on top of `seed_demo`'s archive: work orders in every state and
service groups with answered and waiting questions, so that the order list, the
SLA reminders and the group health figures have something to show.

Everything goes through the services, as in production (timeline events,
notifications, deadlines), then the orders are moved back in time by a random
share of their resolve time so that some are near their deadline and some overdue.
Reproducible with the same --seed.
"""

import random
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import OrgUnit, User
from accounts.selectors import nearest_supervisors
from customers.models import Customer, District
from groups.models import GroupKind, ServiceGroup
from groups.services.groups import group_create
from groups.services.members import group_add_district_customers
from groups.services.messages import message_post, reply_post
from tickets import services as ticket_services
from tickets.models import Category, Kind, ReturnVisit, Source, Ticket, TicketEvent, Urgency

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
        with transaction.atomic():
            groups = self.seed_groups(rng, stations, staff)
            made = self.seed_orders(rng, stations, staff, supervisors, orders)
        self.stdout.write(
            self.style.SUCCESS(f"Seeded {made} work orders and {groups} service groups (seed {seed}).")
        )

    def seed_groups(self, rng: random.Random, stations, staff) -> int:
        count = 0
        now = timezone.now()
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
                        reply_post(
                            group=group,
                            by=owner,
                            text=rng.choice(REPLIES),
                            inquiry=inquiry,
                            sent_at=min(now, asked + timedelta(minutes=rng.uniform(3, 90))),
                        )
                count += 1
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
            ticket, _created = ticket_services.ticket_create(
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
            signed = self.advance(rng, ticket, assignee, supervisors)
            # Opened some way into the time it runs against (signing, then
            # resolving): most in time, some near the deadline, a few overdue.
            allowed = (ticket.resolve_due_at if signed else ticket.sign_due_at) - ticket.created_at
            self.move_back(ticket, allowed * rng.uniform(0, 1.2))
            made += 1
        return made

    def advance(self, rng: random.Random, ticket: Ticket, assignee: User, supervisors) -> None:
        """Carry the order some way along its lifecycle, as people would."""
        stage = rng.random()
        if stage < 0.3:
            return  # dispatched, waiting to be signed for
        ticket_services.ticket_sign(ticket=ticket, by=assignee)
        if stage < 0.5:
            return
        ticket_services.ticket_start(ticket=ticket, by=assignee)
        if stage < 0.62:
            return
        ticket_services.ticket_resolve(
            ticket=ticket, by=assignee, resolution="已现场处理并向客户解释，客户认可。"
        )
        if stage < 0.8:
            return
        result = rng.choice(
            [ReturnVisit.Result.SATISFIED] * 6
            + [ReturnVisit.Result.BASICALLY] * 3
            + [ReturnVisit.Result.DISSATISFIED]
        )
        # The return visit is a supervisor's, never the handler's own (tickets.permissions).
        visitor = next(iter(nearest_supervisors(ticket.org_unit)), None)
        if visitor is None:
            return True
        ticket_services.ticket_record_return_visit(ticket=ticket, by=visitor, method="phone", result=result)
        return True

    def move_back(self, ticket: Ticket, delta: timedelta) -> None:
        """Shift every moment of the order into the past (its clock keeps its shape)."""
        moments = (
            "created_at", "sign_warn_at", "sign_due_at", "resolve_warn_at", "resolve_due_at",
            "next_escalation_at", "signed_at", "resolved_at",
        )  # fmt: skip
        Ticket.objects.filter(pk=ticket.pk).update(**{name: F(name) - delta for name in moments})
        TicketEvent.objects.filter(ticket=ticket).update(created_at=F("created_at") - delta)
        ReturnVisit.objects.filter(ticket=ticket).update(
            due_at=F("due_at") - delta, created_at=F("created_at") - delta, visited_at=F("visited_at") - delta
        )
