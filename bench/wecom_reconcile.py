"""The WeCom group reconcile against a naive per-group loop, on the local WeCom sandbox.

    python bench/wecom_reconcile.py [--groups 5000] [--members 200] [--naive-sample 100]

Generates in PostgreSQL an org tree with its managers (each with a WeCom
userid) and customers whose contacts carry an external_userid, and in the
sandbox (wecom/sandbox, in process, on a random port) `--groups` customer
groups of `--members` members each: the owner, two colleagues and customers
drawn from a pool ten times smaller than the memberships (so each customer
is in about ten groups), three in ten of them linked to archive contacts.
Then measures, as beat runs it, with the WeCom calls each run made:
- the first reconcile (every group new: groupchat/list pages, one
  groupchat/get per group, set-based inserts, 200 remark lookups);
- a second reconcile (callbacks keep groups in step: the listing, and up to
  WECOM_REMARK_LOOKUPS_PER_RUN (200) externalcontact/get for customers not
  matched yet; in the sandbox nobody is anyone's contact, so none links);
- a full re-read (every group stale: one get per group, nothing to change);
- a naive loop (per group: groupchat/get, then per member a lookup and a
  get_or_create, per active row a check) on `--naive-sample` groups, first
  pass and second pass, scaled to `--groups`;
and the ratios. Load average at the start and the end.
"""

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import counted_queries, record, setup_django, timed  # noqa: E402

LINKED_SHARE = 0.3
GROUPS_PER_CUSTOMER = 10
REMARK_LOOKUPS = 200


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def start_sandbox():
    from django.conf import settings
    from django.core.cache import cache

    from wecom.sandbox import Sandbox, SandboxState

    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    state = SandboxState()
    sandbox = Sandbox(state).start()
    settings.WECOM_CORP_ID = state.corp_id
    settings.WECOM_CONTACT_SECRET = state.secrets["contact"]
    settings.WECOM_API_BASE = sandbox.api_base
    settings.WECOM_REMARK_LOOKUPS_PER_RUN = REMARK_LOOKUPS
    cache.delete(f"wecom:token:{state.corp_id}:contact")
    return sandbox


def generate(groups: int, members: int, sandbox) -> list[str]:
    """The database's people and contacts, and the sandbox's groups (written into its memory)."""
    from django.db import connection, transaction
    from django.db.models import CharField, Value
    from django.db.models.functions import Cast, Concat

    from bench import generate as gen
    from customers.models import Contact
    from wecom.sandbox.state import EXTERNAL, STAFF, Group, Member

    customers_pool = max(groups * (members - 3) // GROUPS_PER_CUSTOMER, members)
    linked = int(customers_pool * LINKED_SHARE)
    scale = gen.Scale(counties=1, customers=linked, orders=0, open_orders=0, groups=0, messages=0, outages=0)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
        gen.wipe()
        _supervisors, _clients, managers, districts, _tokens = gen.org_tree(scale)
        gen.customers_and_contacts(scale, districts)
        Contact.objects.update(wecom_external_userid=Concat(Value("wmC"), Cast("customer_id", CharField())))
        for manager in managers:
            manager.wecom_userid = manager.username
        type(managers[0]).objects.bulk_update(managers, ["wecom_userid"])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    state = sandbox.state
    userids = [manager.username for manager in managers]
    for userid in userids:
        state.add_staff(userid)
    now = int(datetime.now(UTC).timestamp()) - 86400
    staff = {userid: Member(userid=userid, type=STAFF, join_time=now) for userid in userids}
    # Linked customers are wmC<customer id>, the others wmX<n>; one Member each, shared by its groups.
    pool = [
        Member(userid=f"wmC{i}", type=EXTERNAL, join_time=now, name=f"客户{i}") for i in range(1, linked + 1)
    ]
    pool += [
        Member(userid=f"wmX{i}", type=EXTERNAL, join_time=now, name=f"访客{i}")
        for i in range(customers_pool - linked)
    ]
    chat_ids = []
    with state.lock:
        for index in range(groups):
            owner = userids[index % len(userids)]
            chat_id = f"wrBench{index:06d}"
            group = Group(chat_id=chat_id, name=f"VIP客户群{index}", owner=owner, create_time=now)
            for userid in (owner, userids[(index + 1) % len(userids)], userids[(index + 2) % len(userids)]):
                group.members[userid] = staff[userid]
            start = (index * (members - 3)) % len(pool)
            for offset in range(members - 3):
                member = pool[(start + offset) % len(pool)]
                group.members[member.userid] = member
            state.groups[chat_id] = group
            chat_ids.append(chat_id)
    return chat_ids


def wipe_sync() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM groups_unlinkedmember")
        cursor.execute("DELETE FROM groups_wecomchat")
        cursor.execute(
            "DELETE FROM groups_membership WHERE group_id IN "
            "(SELECT id FROM groups_servicegroup WHERE external_id <> '')"
        )
        cursor.execute("DELETE FROM groups_grouphealth")
        cursor.execute("DELETE FROM groups_servicegroup WHERE external_id <> ''")


def naive_sync(client, chat_ids) -> None:
    """What one would write first: per group a read, per member a lookup and a get_or_create."""
    from django.utils import timezone

    from accounts.models import User
    from customers.models import Contact
    from groups.models import GroupKind, Membership, ServiceGroup, UnlinkedMember

    now = timezone.now()
    for chat_id in chat_ids:
        data = client.groupchat_get(chat_id)
        owner = User.objects.filter(wecom_userid=data["owner"]).first()
        group = ServiceGroup.objects.filter(external_id=chat_id).first()
        if group is None:
            group = ServiceGroup.objects.create(
                name=data["name"],
                kind=GroupKind.VIP,
                owner=owner,
                org_unit_id=owner.org_unit_id,
                rules="-",
                external_id=chat_id,
            )
        present_members, present_unlinked = set(), set()
        for item in data["member_list"]:
            joined = datetime.fromtimestamp(item["join_time"], tz=UTC)
            if item["type"] == 1:
                person = User.objects.filter(wecom_userid=item["userid"]).first()
                lookup = {"user": person}
            else:
                person = Contact.objects.filter(wecom_external_userid=item["userid"]).first()
                lookup = {"contact": person}
            if person is not None:
                row, _ = Membership.objects.get_or_create(
                    group=group, left_at=None, **lookup, defaults={"joined_at": joined}
                )
                present_members.add(row.pk)
            else:
                row, _ = UnlinkedMember.objects.get_or_create(
                    group=group,
                    userid=item["userid"],
                    left_at=None,
                    defaults={"kind": item["type"], "name": item.get("name", ""), "joined_at": joined},
                )
                present_unlinked.add(row.pk)
        for row in Membership.objects.active().filter(group=group):
            if row.pk not in present_members:
                row.left_at = now
                row.save(update_fields=["left_at"])
        for row in UnlinkedMember.objects.active().filter(group=group):
            if row.pk not in present_unlinked:
                row.left_at = now
                row.save(update_fields=["left_at"])


def measured(sandbox, function):
    """(seconds, WeCom calls, SQL statements, the function's result)."""
    calls_before = len(sandbox.state.calls)
    with counted_queries() as queries, timed() as clock:
        result = function()
    return clock.seconds, len(sandbox.state.calls) - calls_before, queries.count, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--naive-sample", type=int, default=100)
    args = parser.parse_args()
    os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_wecom")
    setup_django()
    load_start = load_average()
    print(f"load average at start: {load_start}")

    from django.utils import timezone

    from groups.models import Membership, UnlinkedMember, WeComChat
    from groups.services.wecom_sync import groups_reconcile
    from wecom.client import GROUPCHAT_PAGE_LIMIT, WeComClient

    sandbox = start_sandbox()
    with timed() as generation:
        chat_ids = generate(args.groups, args.members, sandbox)
    print(f"generated in {generation.seconds:.1f}s")
    client = WeComClient.contact()
    sample = chat_ids[: args.naive_sample]
    scale_up = args.groups / max(len(sample), 1)

    wipe_sync()
    naive_first_s, _calls, naive_first_sql, _ = measured(sandbox, lambda: naive_sync(client, sample))
    naive_again_s, naive_again_calls, naive_again_sql, _ = measured(
        sandbox, lambda: naive_sync(client, sample)
    )
    wipe_sync()

    first_s, first_calls, first_sql, first = measured(sandbox, lambda: groups_reconcile(client=client))
    if first.fetched != args.groups or first.failed:
        raise SystemExit(f"first reconcile read {first.fetched} groups, {first.failed} failed")
    rows = Membership.objects.filter(group__external_id__startswith="wrBench").count()
    unlinked = UnlinkedMember.objects.count()
    second_s, second_calls, second_sql, _second = measured(sandbox, lambda: groups_reconcile(client=client))
    WeComChat.objects.update(synced_at=timezone.now() - timezone.timedelta(days=30))
    UnlinkedMember.objects.update(mobiles_checked_at=timezone.now())
    full_s, full_calls, full_sql, full = measured(sandbox, lambda: groups_reconcile(client=client))
    if full.fetched != args.groups or full.joined or full.left:
        raise SystemExit(f"a full re-read changed memberships: +{full.joined} -{full.left}")

    list_pages = -(-args.groups // GROUPCHAT_PAGE_LIMIT)
    naive_calls = round(naive_again_calls * scale_up) + list_pages
    naive_first_total = naive_first_s * scale_up
    naive_again_total = naive_again_s * scale_up
    figures = {
        "groups": args.groups,
        "members_per_group": args.members,
        "memberships_written": rows,
        "unlinked_rows_written": unlinked,
        "first_reconcile_s": round(first_s, 1),
        "first_reconcile_wecom_calls": first_calls,
        "first_reconcile_sql_per_group": round(first_sql / args.groups, 1),
        "second_reconcile_s": round(second_s, 2),
        "second_reconcile_wecom_calls": second_calls,
        "second_reconcile_sql": second_sql,
        "full_reread_s": round(full_s, 1),
        "full_reread_wecom_calls": full_calls,
        "full_reread_sql_per_group": round(full_sql / args.groups, 1),
        "naive_sample_groups": len(sample),
        "naive_first_pass_s_scaled": round(naive_first_total, 1),
        "naive_first_pass_sql_per_group": round(naive_first_sql / max(len(sample), 1), 1),
        "naive_second_pass_s_scaled": round(naive_again_total, 1),
        "naive_wecom_calls_per_pass_scaled": naive_calls,
        "speedup_first_vs_naive": round(naive_first_total / first_s, 1),
        "speedup_second_vs_naive": round(naive_again_total / max(second_s, 1e-6), 1),
        "speedup_full_reread_vs_naive": round(naive_again_total / full_s, 1),
        "wecom_calls_ratio_naive_over_second": round(naive_calls / max(second_calls, 1), 1),
        "load_average_start": load_start,
        "load_average_end": load_average(),
    }
    record(
        "wecom_reconcile",
        figures,
        scale={"groups": args.groups, "members": args.members, "naive_sample": len(sample)},
    )
    print(f"load average at end: {figures['load_average_end']}")
    sandbox.stop()


if __name__ == "__main__":
    main()
