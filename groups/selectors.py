"""Reads of service groups shared by pages, scans and (later) the API.

Everything starts from `visible_to(user)`, so a group out of the user's scope
is absent from lists and answers 404 on its pages.

Health figures (seed 000 §02 三, "有求必应", never a 僵尸群) are defined by one
GROUP BY over the groups' messages (health_from_messages); the services that
write messages keep the result per group in GroupHealth, so a list reads the
groups and their rows (with_health) and a page of 3 groups and one of 300
cost the same queries, whatever the number of messages.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    FloatField,
    IntegerField,
    JSONField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.choices import active_staff, within_reach
from accounts.models import OrgUnit, User
from core.aggregates import JSONList, Percentile, percentile
from core.text import is_text
from customers.models import Contact, Customer
from customers.selectors import CustomerSearch, customer_search, phone_shown_to
from groups.filtersets import GroupFilterSet
from groups.models import (
    Broadcast,
    GroupKind,
    GroupMessage,
    GroupPost,
    GroupPostState,
    Membership,
    ReplyTemplate,
    ServiceGroup,
    UnlinkedMember,
)

# The message log is read a page at a time (a phone shows a few dozen messages; rendering
# hundreds cost a group's page most of its time); older pages go back this far.
MESSAGE_LOG_SIZE = 50
MESSAGE_LOG_PAGES = 40
TEMPLATE_SEARCH_LIMIT = 10

# Sort keys of the group list: name → (expression ascending, nulls sort as "worst").
SORTS = {
    "name": "name",
    "inquiries": "inquiries_recent",
    "in_time": "in_time_share",
    "median": "median_response_seconds",
    "unanswered": "unanswered_now",
    "silent": "silent_since",
}
DEFAULT_SORT = "-unanswered"


# --- Choices a user may pick from -------------------------------------------------


def owners_for(user: User) -> QuerySet[User]:
    """Who the user may make responsible for a group: themselves, or for a
    supervisor or administrator any active user of their subtree."""
    return within_reach(
        active_staff().select_related("org_unit"),
        user,
        unit_path="org_unit__path",
        own=lambda chooser: Q(pk=chooser.pk),
    )


def template_units_for(user: User) -> QuerySet[OrgUnit]:
    """Units a user may share a reply template with: their own unit, or for a
    supervisor any unit of their subtree; every unit for an administrator."""
    return within_reach(
        OrgUnit.objects.order_by("path"),
        user,
        unit_path="path",
        own=lambda chooser: Q(pk=chooser.org_unit_id),
    )


# --- Health ----------------------------------------------------------------------------


def health_window_start(now: datetime) -> datetime:
    return now - timedelta(days=settings.GROUPS_HEALTH_DAYS)


def silence_cutoff(now: datetime) -> datetime:
    return now - timedelta(days=settings.GROUPS_ZOMBIE_SILENT_DAYS)


def overdue_inquiry_exists(now: datetime) -> Exists:
    return Exists(
        GroupMessage.objects.filter(
            group=OuterRef("pk"), is_inquiry=True, answered_at__isnull=True, response_due_at__lte=now
        )
    )


def owner_last_spoke_q() -> Q:
    return Q(messages__sender_user_id=F("owner_id"))


def zombie_q(now: datetime) -> Q:
    """A 僵尸群: an inquiry is past its deadline unanswered, or the owner has not
    spoken in the group for GROUPS_ZOMBIE_SILENT_DAYS (counted from the group's
    creation if they never did). A 公共服务群 belongs to someone else, so only
    the first test applies to it. Needs `with_health()` annotations."""
    silent = Q(silent_since__lt=silence_cutoff(now)) & ~Q(kind=GroupKind.PUBLIC)
    return Q(overdue_now__gt=0) | silent


def zombie_exists_q(now: datetime) -> Q:
    """zombie_q without with_health(): the same test as EXISTS probes of each
    group's messages (indexed by group, speaker and time), for counting
    zombies over thousands of groups without joining all their messages.

    Silent since the cutoff means: the owner has no message at or after it,
    and either spoke before it or never spoke in a group created before it.
    """
    cutoff = silence_cutoff(now)
    owner_messages = GroupMessage.objects.filter(group=OuterRef("pk"), sender_user_id=OuterRef("owner_id"))
    silent = (
        ~Q(kind=GroupKind.PUBLIC)
        & ~Exists(owner_messages.filter(sent_at__gte=cutoff))
        & (Exists(owner_messages) | Q(created_at__lt=cutoff))
    )
    return Q(overdue_inquiry_exists(now)) | silent


def zombies_of(queryset: QuerySet[ServiceGroup], now: datetime) -> QuerySet[ServiceGroup]:
    """The zombie groups among `queryset`, with what `zombie_reasons` reads (overdue_now,
    silent_since): the test of `zombie_exists_q` and two subqueries per group, for a
    few groups (an owner's), without building all of `with_health()`'s figures."""
    waiting_overdue = GroupMessage.objects.filter(
        group=OuterRef("pk"), is_inquiry=True, answered_at__isnull=True, response_due_at__lte=now
    )
    last_spoke = GroupMessage.objects.filter(group=OuterRef("pk"), sender_user_id=OuterRef("owner_id"))
    return (
        queryset.filter(zombie_exists_q(now))
        .annotate(
            overdue_now=Coalesce(
                Subquery(waiting_overdue.order_by().values("group").annotate(n=Count("id")).values("n")),
                Value(0),
            ),
            owner_last_spoke_at=Subquery(
                last_spoke.order_by().values("group").annotate(last=Max("sent_at")).values("last"),
                output_field=DateTimeField(),
            ),
        )
        .annotate(silent_since=Coalesce("owner_last_spoke_at", "created_at"))
    )


def health_from_messages(queryset: QuerySet[ServiceGroup], now: datetime) -> QuerySet[ServiceGroup]:
    """Annotate each group's health, all in one GROUP BY over its messages:

    - inquiries_recent: inquiries asked in the last GROUPS_HEALTH_DAYS days;
    - inquiries_decided: of those, the answered ones and those past their deadline
      (one still within its deadline counts neither for nor against the group);
    - answered_in_time: of those, answered by their deadline;
    - in_time_share: answered_in_time / inquiries_decided (NULL when none);
    - median_response_seconds: median time to the answer of those answered;
    - unanswered_now / overdue_now: inquiries waiting now / past their deadline;
    - owner_last_spoke_at, silent_since (that, or the creation time), is_zombie;
    - window_first_sent_at, next_due_at: when time alone next changes the
      figures (what GroupHealth keeps to know it is still exact).

    It reads every message of the groups: the definition of the figures, used
    to keep GroupHealth; lists read with_health().
    """
    since = health_window_start(now)
    recent = Q(messages__is_inquiry=True, messages__sent_at__gte=since)
    waiting = Q(messages__is_inquiry=True, messages__answered_at__isnull=True)
    decided = Q(messages__answered_at__isnull=False) | Q(messages__response_due_at__lte=now)
    return queryset.annotate(
        window_first_sent_at=Min("messages__sent_at", filter=recent),
        next_due_at=Min("messages__response_due_at", filter=waiting & Q(messages__response_due_at__gt=now)),
        inquiries_recent=Count("messages", filter=recent),
        inquiries_decided=Count("messages", filter=recent & decided),
        answered_in_time=Count(
            "messages", filter=recent & Q(messages__answered_at__lte=F("messages__response_due_at"))
        ),
        median_response_seconds=Percentile(
            "messages__response_seconds", 0.5, filter=recent & Q(messages__answered_at__isnull=False)
        ),
        unanswered_now=Count("messages", filter=waiting),
        overdue_now=Count("messages", filter=waiting & Q(messages__response_due_at__lte=now)),
        owner_last_spoke_at=Max("messages__sent_at", filter=owner_last_spoke_q()),
    ).annotate(
        silent_since=Coalesce("owner_last_spoke_at", "created_at"),
        in_time_share=Case(
            When(inquiries_decided=0, then=Value(None)),
            default=Cast("answered_in_time", FloatField()) / Cast("inquiries_decided", FloatField()),
            output_field=FloatField(),
        ),
        is_zombie=Case(
            When(zombie_q(now), then=Value(True)), default=Value(False), output_field=BooleanField()
        ),
    )


# The figures GroupHealth keeps, and what each is when a group has no message that counts.
HEALTH_FIGURES = {
    "inquiries_recent": IntegerField(),
    "inquiries_decided": IntegerField(),
    "answered_in_time": IntegerField(),
    "median_response_seconds": FloatField(),
    "unanswered_now": IntegerField(),
    "overdue_now": IntegerField(),
    "owner_last_spoke_at": DateTimeField(),
}


def health_fresh_q(now: datetime) -> Q:
    """The group's GroupHealth row holds its exact figures at `now` (see GroupHealth)."""
    return (
        Q(health__computed_at__lte=now)
        & Q(health__owner_id=F("owner_id"))
        & Q(health__window_days=settings.GROUPS_HEALTH_DAYS)
        & (Q(health__window_ends_at__isnull=True) | Q(health__window_ends_at__gte=now))
        & (Q(health__next_due_at__isnull=True) | Q(health__next_due_at__gt=now))
    )


def _figures_from_messages(now: datetime) -> dict[str, Any]:
    """Each figure of one group as a subquery over its own messages (index on group and
    time): what a list reads for the few groups whose GroupHealth is not exact now."""
    since = health_window_start(now)
    mine = GroupMessage.objects.filter(group=OuterRef("pk")).order_by().values("group")
    recent = mine.filter(is_inquiry=True, sent_at__gte=since)
    waiting = mine.filter(is_inquiry=True, answered_at__isnull=True)

    def count(messages: QuerySet) -> Coalesce:
        return Coalesce(Subquery(messages.annotate(n=Count("id")).values("n")), Value(0))

    return {
        "inquiries_recent": count(recent),
        "inquiries_decided": count(recent.filter(Q(answered_at__isnull=False) | Q(response_due_at__lte=now))),
        "answered_in_time": count(recent.filter(answered_at__lte=F("response_due_at"))),
        "median_response_seconds": Subquery(
            recent.filter(answered_at__isnull=False)
            .annotate(m=Percentile("response_seconds", 0.5))
            .values("m"),
            output_field=FloatField(),
        ),
        "unanswered_now": count(waiting),
        "overdue_now": count(waiting.filter(response_due_at__lte=now)),
        "owner_last_spoke_at": Subquery(
            mine.filter(sender_user_id=OuterRef("owner_id")).annotate(last=Max("sent_at")).values("last"),
            output_field=DateTimeField(),
        ),
    }


def with_health(queryset: QuerySet[ServiceGroup], now: datetime) -> QuerySet[ServiceGroup]:
    """The figures of health_from_messages(), read from each group's GroupHealth row.

    A list reads its groups and their rows, never all their messages; a
    group whose row is missing or not exact at `now` (a deadline passed or
    an inquiry left the window since it was computed; the periodic refresh
    catches up within minutes) has its figures computed from its own
    messages in the same query. `health_fresh` says which it was.
    """
    fresh = health_fresh_q(now)
    computed = _figures_from_messages(now)
    figures = {
        name: Case(When(fresh, then=F(f"health__{name}")), default=computed[name], output_field=field)
        for name, field in HEALTH_FIGURES.items()
    }
    return (
        queryset.annotate(
            health_fresh=Case(
                When(fresh, then=Value(True)), default=Value(False), output_field=BooleanField()
            ),
            **figures,
        )
        .annotate(
            silent_since=Coalesce("owner_last_spoke_at", "created_at"),
            in_time_share=Case(
                When(inquiries_decided=0, then=Value(None)),
                default=Cast("answered_in_time", FloatField()) / Cast("inquiries_decided", FloatField()),
                output_field=FloatField(),
            ),
        )
        .annotate(
            is_zombie=Case(
                When(zombie_q(now), then=Value(True)), default=Value(False), output_field=BooleanField()
            ),
        )
    )


def days_since(moment: datetime | None, now: datetime) -> int | None:
    if moment is None:
        return None
    return max((now - moment).days, 0)


def _decorate(group: ServiceGroup, now: datetime) -> ServiceGroup:
    group.silent_days = days_since(group.silent_since, now)
    group.owner_never_spoke = group.owner_last_spoke_at is None
    group.zombie_reasons = zombie_reasons(group, now)
    return group


def zombie_reasons(group: ServiceGroup, now: datetime) -> list[str]:
    """Why a group counts as a zombie, in words, from its `with_health()` annotations."""
    reasons = []
    if group.overdue_now:
        reasons.append(_("%(count)d条咨询超时未回复") % {"count": group.overdue_now})
    if group.kind != GroupKind.PUBLIC and group.silent_since < silence_cutoff(now):
        reasons.append(
            _("负责人已%(days)d天未在群内发言") % {"days": days_since(group.silent_since, now) or 0}
        )
    return reasons


# --- The group list ---------------------------------------------------------------------


@dataclass
class GroupPage:
    items: list[ServiceGroup] = field(default_factory=list)
    number: int = 1
    has_next: bool = False
    sort: str = DEFAULT_SORT
    filtered: bool = False
    now: datetime | None = None

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous


MAX_PAGE_NUMBER = 1_000_000


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def group_queryset(*, user: User) -> QuerySet[ServiceGroup]:
    return ServiceGroup.objects.visible_to(user).select_related(
        "owner", "owner__org_unit", "org_unit", "district", "line"
    )


def _ordering(sort: str) -> tuple[str, list]:
    key = sort.lstrip("-")
    if key not in SORTS:
        sort, key = DEFAULT_SORT, DEFAULT_SORT.lstrip("-")
    column = F(SORTS[key])
    descending = sort.startswith("-")
    # Groups without a figure (no inquiries yet) sort last either way.
    expression = column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)
    return sort, [expression, "name", "id"]


def group_list(*, user: User, params: Mapping[str, Any], page_size: int | None = None) -> GroupPage:
    """One page of the visible groups with their health figures.

    Filters: GroupFilterSet's, as the API reads them (q for the name, kind,
    owner ids, zombie 1 / 0, archived 1 for archived groups instead of active
    ones); a bad value is ignored. sort: one of SORTS, a leading "-" for
    descending (default: most unanswered first). The figures are columns, so
    sorting and the zombie filter happen in SQL. Groups are a small table
    (hundreds per county), so pages go by number (LIMIT/OFFSET, no COUNT).
    One query per page.
    """
    size = page_size or settings.GROUPS_PAGE_SIZE
    now = timezone.now()
    filterset = GroupFilterSet(params, queryset=with_health(group_queryset(user=user), now))
    queryset = filterset.qs
    # Active groups are the list itself; any other value given narrows it.
    filtered = any(
        value not in (None, "", [])
        for name, value in filterset.form.cleaned_data.items()
        if name != "archived" or value
    )
    sort, ordering = _ordering(str(params.get("sort") or DEFAULT_SORT))
    # A page number past any real list is past the end, not an OFFSET beyond a bigint.
    number = min(_int(params.get("page")) or 1, MAX_PAGE_NUMBER)
    start = (number - 1) * size
    rows = list(queryset.order_by(*ordering)[start : start + size + 1])
    items = [_decorate(group, now) for group in rows[:size]]
    return GroupPage(
        items=items, number=number, has_next=len(rows) > size, sort=sort, filtered=filtered, now=now
    )


def owner_options(*, user: User) -> list[tuple[int, str]]:
    """The owners of the groups the user sees, for the list's filter (one query)."""
    rows = (
        ServiceGroup.objects.visible_to(user)
        .active()
        .order_by("owner__real_name", "owner_id")
        .values_list("owner_id", "owner__real_name", "owner__username")
        .distinct()
    )
    return [(pk, real_name or username) for pk, real_name, username in rows]


@dataclass
class OwnerHealth:
    owner: User
    groups: int = 0
    zombies: int = 0
    inquiries_recent: int = 0
    inquiries_decided: int = 0
    answered_in_time: int = 0
    median_response_seconds: float | None = None
    unanswered_now: int = 0
    last_spoke_at: datetime | None = None
    silent_days: int | None = None

    @property
    def in_time_share(self) -> float | None:
        return self.answered_in_time / self.inquiries_decided if self.inquiries_decided else None


def _owner_figures_sql(groups: QuerySet[ServiceGroup], now: datetime) -> tuple[str, tuple]:
    """One statement: the groups' figures summed per owner, and the response times of
    all each owner's groups (the kept ones of exact rows, the messages' for the others)
    as one JSON array of each group's list, for the owner's median."""
    answered = (
        GroupMessage.objects.filter(
            group=OuterRef("pk"),
            is_inquiry=True,
            sent_at__gte=health_window_start(now),
            answered_at__isnull=False,
        )
        .order_by()
        .values("group")
        .annotate(values=JSONList("response_seconds"))
        .values("values")
    )
    rows = (
        with_health(groups, now)
        .annotate(
            answer_seconds=Case(
                When(health_fresh=True, then=F("health__response_seconds")),
                default=Subquery(answered, output_field=JSONField()),
                output_field=JSONField(),
            )
        )
        .order_by()
        .values(
            "owner_id",
            "is_zombie",
            "owner_last_spoke_at",
            "inquiries_recent",
            "inquiries_decided",
            "answered_in_time",
            "unanswered_now",
            "answer_seconds",
        )
    )
    inner, params = rows.query.sql_with_params()
    # Each owner's lists as one JSON array of lists: expanding and sorting every
    # answer in SQL costs more than reading the few whole numbers per group here.
    if connection.vendor == "postgresql":
        lists = "jsonb_agg(g.answer_seconds)"
    else:
        lists = "json_group_array(json(g.answer_seconds))"
    sql = (
        f"WITH g AS ({inner}) "
        "SELECT g.owner_id, COUNT(*), SUM(CASE WHEN g.is_zombie THEN 1 ELSE 0 END), "
        "MAX(g.owner_last_spoke_at), "
        "SUM(g.inquiries_recent), SUM(g.inquiries_decided), SUM(g.answered_in_time), SUM(g.unanswered_now), "
        f"{lists} FROM g GROUP BY g.owner_id"
    )
    return sql, params


def _answer_seconds(lists: Any) -> list[float]:
    """The response times of an owner's groups from their JSON array of lists (NULL for none)."""
    if isinstance(lists, str | bytes):
        lists = json.loads(lists)
    return [value for answers in lists or () if answers for value in answers]


def owner_health_scope(user: User) -> str:
    """What decides a user's owner table (the groups.list.html cache key): a supervisor's
    unit, since a supervisor sees the groups of the unit's subtree and nothing else; all of
    them for an administrator; the user for anybody else."""
    if user.is_administrator:
        return "all"
    if user.sees_subtree and user.org_unit_id:
        return f"unit-{user.org_unit_id}"
    return f"user-{user.pk}"


def owner_health(*, user: User, now: datetime | None = None) -> list[OwnerHealth]:
    """Health per account manager over the active groups the user sees, most zombies first.

    The groups' GroupHealth rows summed per owner; the median is taken over
    the response times those rows keep (a group whose row is not exact now:
    its messages'), so it is the median of all the owner's answers, not a
    median of medians. Two queries whatever the number of groups or
    messages: the figures per owner, summed in the database, and the owners.
    Response times are whole seconds, so reading them costs little.
    """
    now = now or timezone.now()
    groups = ServiceGroup.objects.visible_to(user).active()
    sql, params = _owner_figures_sql(groups, now)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return []
    # SQLite hands the raw query's times back as text.
    to_datetime = getattr(connection.ops, "convert_datetimefield_value", None)
    owners = User.objects.select_related("org_unit").in_bulk([row[0] for row in rows])
    result = []
    for owner_id, count, zombies, last_spoke, recent, decided, in_time, waiting, lists in rows:
        if to_datetime and last_spoke is not None:
            last_spoke = to_datetime(last_spoke, None, connection)
        health = OwnerHealth(
            owner=owners[owner_id],
            groups=count,
            # PostgreSQL sums bigint columns as numeric.
            zombies=int(zombies),
            inquiries_recent=int(recent),
            inquiries_decided=int(decided),
            answered_in_time=int(in_time),
            unanswered_now=int(waiting),
            median_response_seconds=percentile(_answer_seconds(lists), 0.5),
            last_spoke_at=last_spoke,
        )
        health.silent_days = days_since(health.last_spoke_at, now)
        result.append(health)
    result.sort(key=lambda h: (-h.zombies, -h.unanswered_now, h.owner.real_name, h.owner.pk))
    return result


# --- One group ---------------------------------------------------------------------------


def group_for_action(*, user: User, pk: int) -> ServiceGroup:
    """A visible group with what the permission checks read; 404 when out of scope."""
    return get_object_or_404(
        ServiceGroup.objects.visible_to(user).select_related("owner", "org_unit", "district", "line"), pk=pk
    )


def message_log_page(value) -> int:
    """The page of the message log a request asks for: 1 unless a whole number from 1 to
    MESSAGE_LOG_PAGES (greater ones read the last page there is)."""
    text = str(value or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        return 1
    return min(max(int(text), 1), MESSAGE_LOG_PAGES)


def group_detail(*, user: User, pk: int, log_page: int = 1) -> ServiceGroup:
    """A visible group with its health, members and message log (page `log_page` of it:
    `message_log_page` reads it off the request); 404 when out of scope.

    A fixed number of queries: the group with its figures, its active members
    (contacts with their customers, staff with their units), the WeCom
    customers not linked to a contact yet (未关联成员), and the message log —
    unanswered inquiries first, then the latest messages — with senders.
    """
    now = timezone.now()
    members = Membership.objects.active().select_related("contact__customer", "user__org_unit")
    queryset = with_health(group_queryset(user=user), now).prefetch_related(
        Prefetch("memberships", queryset=members.order_by("joined_at", "id"), to_attr="member_list"),
        Prefetch("unlinked_members", queryset=unlinked_customers(), to_attr="unlinked_list"),
    )
    group = get_object_or_404(queryset, pk=pk)
    _decorate(group, now)
    group.staff_members = [m for m in group.member_list if m.user_id]
    group.customer_members = [m for m in group.member_list if m.contact_id]
    rows = message_log(
        group=group, now=now, limit=MESSAGE_LOG_SIZE + 1, offset=(log_page - 1) * MESSAGE_LOG_SIZE
    )
    group.message_log = rows[:MESSAGE_LOG_SIZE]
    group.log_page = log_page
    group.log_next_page = (
        log_page + 1 if len(rows) > MESSAGE_LOG_SIZE and log_page < MESSAGE_LOG_PAGES else None
    )
    return group


def unlinked_customers() -> QuerySet[UnlinkedMember]:
    """WeCom customers in a group whom no archive contact carries yet, oldest first."""
    return (
        UnlinkedMember.objects.active().filter(kind=UnlinkedMember.Kind.EXTERNAL).order_by("joined_at", "id")
    )


def unlinked_member_for_action(*, group: ServiceGroup, pk: int) -> UnlinkedMember:
    """An unlinked customer of `group` (already scoped); 404 otherwise."""
    return get_object_or_404(unlinked_customers().filter(group=group).select_related("group"), pk=pk)


LINK_CANDIDATE_CUSTOMERS = 20


@dataclass
class LinkCandidates:
    search: CustomerSearch | None = None
    contacts: list[Contact] = field(default_factory=list)


def link_candidates(*, user: User, term: str) -> LinkCandidates:
    """Contacts an unlinked customer may be, found by the customer search (户号, phone, name
    or address) among the customers the user sees; phones masked unless the user owns them.
    Two queries, or none for a term too short."""
    term = (term or "").strip()
    if not term:
        return LinkCandidates()
    search = customer_search(term, customers=Customer.objects.visible_to(user))
    ids = search.ids[:LINK_CANDIDATE_CUSTOMERS]
    contacts = list(
        Contact.objects.filter(customer_id__in=ids)
        .select_related("customer")
        .order_by("customer__name", "customer_id", "-is_primary", "id")
    )
    for contact in contacts:
        contact.phone_shown = phone_shown_to(user, contact.customer, contact.phone)
    return LinkCandidates(search=search, contacts=contacts)


def contact_for_link(*, user: User, pk: int) -> Contact:
    """A contact of a customer the user sees; 404 otherwise."""
    return get_object_or_404(
        Contact.objects.filter(customer__in=Customer.objects.visible_to(user)).select_related("customer"),
        pk=pk,
    )


def message_log(
    *, group: ServiceGroup, now: datetime, limit: int = MESSAGE_LOG_SIZE, offset: int = 0
) -> list[GroupMessage]:
    """Unanswered inquiries first (oldest deadline first), then the rest newest first;
    `limit` of them from `offset`."""
    waiting = Q(is_inquiry=True, answered_at__isnull=True)
    rows = list(
        GroupMessage.objects.filter(group=group)
        .select_related("customer", "sender_user__org_unit", "answer")
        .annotate(
            waiting=Case(When(waiting, then=Value(0)), default=Value(1)),
        )
        .order_by("waiting", Case(When(waiting, then=F("response_due_at"))).asc(), "-sent_at", "-id")[
            offset : offset + limit
        ]
    )
    for message in rows:
        message.is_overdue = bool(
            message.is_inquiry and message.answered_at is None and message.response_due_at <= now
        )
    return rows


def message_for_action(*, user: User, pk: int, group: ServiceGroup | None = None) -> GroupMessage:
    """A visible message (of `group` when given); 404 when out of scope."""
    queryset = GroupMessage.objects.visible_to(user).select_related(
        "group", "group__owner", "customer", "sender_contact"
    )
    if group is not None:
        queryset = queryset.filter(group=group)
    return get_object_or_404(queryset, pk=pk)


def member_contacts(*, group: ServiceGroup) -> QuerySet[Contact]:
    """The contacts who are in the group now: who a logged message may come from."""
    return (
        Contact.objects.filter(group_memberships__group=group, group_memberships__left_at__isnull=True)
        .select_related("customer")
        .order_by("customer__name", "name", "id")
    )


def customer_by_number(*, user: User, number: str) -> Customer | None:
    number = (number or "").strip()
    if not number:
        return None
    return Customer.objects.visible_to(user).filter(number=number).first()


# --- Broadcasts and reply templates ---------------------------------------------------


def broadcast_list(*, user: User, limit: int = 100) -> list[Broadcast]:
    return list(
        Broadcast.objects.visible_to(user)
        .select_related("created_by")
        .annotate(group_count=Count("groups"))
        .order_by("-created_at", "-id")[:limit]
    )


def broadcast_detail(*, user: User, pk: int) -> Broadcast:
    return get_object_or_404(
        Broadcast.objects.visible_to(user)
        .select_related("created_by", "org_unit")
        .prefetch_related(
            Prefetch("groups", queryset=ServiceGroup.objects.order_by("name"), to_attr="group_list")
        ),
        pk=pk,
    )


def broadcast_groups_for(user: User) -> QuerySet[ServiceGroup]:
    """Active groups a user may send to: the ones they see."""
    return ServiceGroup.objects.visible_to(user).active().order_by("name", "id")


def reply_templates(*, user: User, q: str = "", category: str = "", limit: int | None = None):
    queryset = ReplyTemplate.objects.visible_to(user).select_related("org_unit", "created_by")
    q = (q or "").strip()
    # A search that is not text (NUL, control characters) matches nothing a template holds.
    if q and not is_text(q):
        return []
    if q:
        queryset = queryset.filter(Q(title__icontains=q) | Q(body__icontains=q))
    if category:
        queryset = queryset.filter(category=category)
    queryset = queryset.order_by("-use_count", "title", "id")
    return list(queryset[:limit] if limit else queryset)


def reply_template_for_use(*, user: User, pk: int) -> ReplyTemplate:
    return get_object_or_404(ReplyTemplate.objects.visible_to(user), pk=pk)


# --- WeCom group posts (企业群发) -------------------------------------------------------

# Posts that use up a group's monthly receiving limit (a refused one does not).
COUNTED_POST_STATES = (GroupPostState.QUEUED, GroupPostState.WAITING, GroupPostState.SENT)


def post_month(at: datetime) -> str:
    return timezone.localtime(at).strftime("%Y-%m")


def posts_this_month(group_ids: list[int], month: str) -> dict[int, int]:
    """Posts counted against each group's monthly receiving limit."""
    rows = (
        GroupPost.objects.filter(group_id__in=group_ids, month=month, state__in=COUNTED_POST_STATES)
        .values("group_id")
        .annotate(n=Count("pk"))
    )
    return {row["group_id"]: row["n"] for row in rows}


def quota_left(groups: list[ServiceGroup], now: datetime | None = None) -> dict[int, int]:
    """How many more posts each WeCom-linked group can receive this month."""
    used = posts_this_month([group.pk for group in groups], post_month(now or timezone.now()))
    limit = settings.WECOM_GROUP_MONTHLY_LIMIT
    return {group.pk: max(limit - used.get(group.pk, 0), 0) for group in groups if group.external_id}


@dataclass
class PostRow:
    """One target group of a broadcast, and what happened to it there."""

    group: ServiceGroup
    post: GroupPost | None
    quota_left: int | None


def broadcast_delivery(broadcast: Broadcast) -> list[PostRow]:
    """Per target group: its WeCom post (None for a group kept only in the CRM) and
    how many more posts it may receive this month. Two queries, whatever the count."""
    groups = broadcast.group_list
    posts = {post.group_id: post for post in GroupPost.objects.filter(broadcast=broadcast)}
    left = quota_left(groups)
    return [PostRow(group=group, post=posts.get(group.pk), quota_left=left.get(group.pk)) for group in groups]
