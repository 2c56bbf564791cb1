"""Polling the send state of WeCom group posts (企业群发): per task against per group.

    python bench/wecom_posts.py [--groups 5000] [--owners 50]

Against the local WeCom sandbox (wecom/sandbox), in the benchmark's PostgreSQL
database: `--groups` WeCom groups with a waiting post each, owned by
`--owners` owners, so one broadcast is one task per owner; half the owners
have confirmed their task. Measures one cycle of `post_states_poll` (WeCom
calls, seconds) against a naive loop that asks WeCom about every group
(get_groupmsg_task + get_groupmsg_send_result per group), in the same run.
Goal: calls bounded by tasks, not groups. Prints the load average.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import record, setup_django, timed  # noqa: E402


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument(
        "--naive-sample", type=int, default=500, help="groups the naive loop asks about (scaled to all)"
    )
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.core.cache import cache
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import OrgUnit, User
    from groups.models import Broadcast, BroadcastTopic, GroupKind, GroupPost, GroupPostState, ServiceGroup
    from groups.services.posts import post_states_poll
    from wecom.client import WeComClient
    from wecom.sandbox import Sandbox, SandboxState

    print(f"load average at start: {load_average()}")
    state = SandboxState()
    sandbox = Sandbox(state).start()
    settings.WECOM_CORP_ID = state.corp_id
    settings.WECOM_CONTACT_SECRET = state.secrets["contact"]
    settings.WECOM_API_BASE = sandbox.api_base
    cache.clear()
    tag = f"bp{int(time.time())}"
    try:
        now = timezone.now()
        with transaction.atomic():
            unit = OrgUnit.objects.create(code=tag, name="群发基准供电所", level=OrgUnit.Level.STATION)
            owners = [
                User(username=f"{tag}-{i}", real_name=f"群主{i}", org_unit=unit, wecom_userid=f"{tag}-{i}")
                for i in range(args.owners)
            ]
            User.objects.bulk_create(owners)
            owners = list(User.objects.filter(org_unit=unit).order_by("pk"))
            broadcast = Broadcast.objects.create(
                topic=BroadcastTopic.OUTAGE,
                title="停电通知",
                body="基准",
                org_unit=unit,
                created_by=owners[0],
            )
            groups, posts, chats_by_owner = [], [], {}
            for index in range(args.groups):
                owner = owners[index % len(owners)]
                state.add_staff(owner.wecom_userid)
                chat = state.create_group(
                    name=f"群{index}", owner=owner.wecom_userid, members=[owner.wecom_userid]
                )
                chats_by_owner.setdefault(owner.wecom_userid, []).append(chat.chat_id)
                groups.append(
                    ServiceGroup(
                        name=f"群{index}",
                        kind=GroupKind.VIP,
                        owner=owner,
                        org_unit=unit,
                        rules="x",
                        external_id=chat.chat_id,
                    )
                )
            ServiceGroup.objects.bulk_create(groups, batch_size=1000)
            msgids = {
                userid: state.add_msg_template(
                    sender=userid, chat_ids=chats, text="停电通知", attachments=[]
                )["msgid"]
                for userid, chats in chats_by_owner.items()
            }
            for group in ServiceGroup.objects.filter(org_unit=unit).select_related("owner"):
                userid = group.owner.wecom_userid
                posts.append(
                    GroupPost(
                        broadcast=broadcast,
                        group=group,
                        sender=group.owner,
                        sender_userid=userid,
                        state=GroupPostState.WAITING,
                        msgid=msgids[userid],
                        month=now.strftime("%Y-%m"),
                        requested_at=now,
                    )
                )
            GroupPost.objects.bulk_create(posts, batch_size=1000)
        for userid in list(msgids)[: len(msgids) // 2]:
            state.confirm_task(msgids[userid])

        client = WeComClient.contact()
        client.access_token()
        # The naive loop over a sample of the groups (it is slow), scaled to all of them.
        waiting = list(GroupPost.objects.filter(broadcast=broadcast).select_related("group"))
        sample = waiting[:: max(len(waiting) // max(args.naive_sample, 1), 1)]
        scale = len(waiting) / len(sample)
        before = len(state.calls)
        with timed() as naive:
            for post in sample:
                list(client.iter_groupmsg_tasks(post.msgid))
                list(client.iter_groupmsg_send_results(post.msgid, post.sender_userid))
        naive_calls = round((len(state.calls) - before) * scale)
        naive_seconds = naive.seconds * scale

        before = len(state.calls)
        with timed() as per_task:
            report = post_states_poll()
        task_calls = len(state.calls) - before
        figures = {
            "groups": args.groups,
            "tasks": len(msgids),
            "calls_per_cycle": task_calls,
            "naive_calls_per_cycle": naive_calls,
            "calls_ratio_naive_over_per_task": round(naive_calls / max(task_calls, 1), 1),
            "cycle_seconds": round(per_task.seconds, 2),
            "naive_cycle_seconds": round(naive_seconds, 2),
            "speedup_vs_naive_loop": round(naive_seconds / max(per_task.seconds, 1e-9), 1),
            "posts_sent": report.sent,
            "load_average_end": load_average(),
        }
        record("wecom_posts", figures, scale={"groups": args.groups, "owners": args.owners})
    finally:
        sandbox.stop()
        with transaction.atomic():
            GroupPost.objects.filter(broadcast__org_unit__code=tag).delete()
            Broadcast.objects.filter(org_unit__code=tag).delete()
            ServiceGroup.objects.filter(org_unit__code=tag).delete()
            User.objects.filter(org_unit__code=tag).delete()
            OrgUnit.objects.filter(code=tag).delete()


if __name__ == "__main__":
    main()
