"""`manage.py wecom_sandbox --seed-demo`: staff for the demo users, groups of their contacts."""

from crm.management.commands.wecom_sandbox import Command
from tests.factories import ContactFactory, CustomerFactory
from wecom.sandbox import SandboxState


def test_seed_demo_mirrors_users_and_their_contacts(manager, supervisor):
    manager.wecom_userid = "zhangsan-wecom"
    manager.save(update_fields=["wecom_userid"])
    customer = CustomerFactory(manager=manager)
    contact = ContactFactory(customer=customer, mobile="13800138000")
    state = SandboxState()

    Command()._seed(state)

    supervisor.refresh_from_db()
    assert supervisor.wecom_userid == supervisor.username
    assert set(state.staff) == {"zhangsan-wecom", supervisor.username}
    [group] = state.groups.values()
    assert group.owner == "zhangsan-wecom"
    [external] = [m for m in group.members.values() if m.type == 2]
    follow = state.contacts[external.userid]["follow_user"][0]
    assert follow["userid"] == "zhangsan-wecom" and follow["remark_mobiles"] == [contact.mobile]
