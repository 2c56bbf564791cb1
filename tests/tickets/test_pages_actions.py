"""Every step through its POST endpoint: the happy path, bad input, role checks and scope."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from notifications.models import Notification
from tests.factories import UserFactory
from tests.tickets.test_pages_support import (  # noqa: F401
    fast_password_hashing,
    flash,
    media_root,
    open_signed,
    png_bytes,
    text,
)
from tickets import services
from tickets.models import Attachment, ReturnVisit, Status, Ticket, TicketEvent, Transfer
from tickets.views import STEPS

Action = TicketEvent.Action


def url(ticket, step: str) -> str:
    return reverse("tickets:action", args=[ticket.number, step])


def detail(ticket) -> str:
    return reverse("tickets:detail", args=[ticket.number])


def snapshot(ticket) -> tuple:
    """What a refused step must leave untouched."""
    fresh = Ticket.objects.get(pk=ticket.pk)
    return (
        fresh.status,
        fresh.version,
        fresh.urge_count,
        fresh.assignee_id,
        fresh.org_unit_id,
        fresh.events.count(),
        Transfer.objects.count(),
        ReturnVisit.objects.count(),
        Attachment.objects.count(),
        Notification.objects.count(),
    )


def post(client, ticket, step, data=None):
    return client.post(url(ticket, step), data or {}, follow=True)


def done(response, ticket) -> None:
    assert response.status_code == 200
    assert response.redirect_chain == [(detail(ticket), 302)]


# --- happy paths ----------------------------------------------------------------------------


def test_dispatch(login, supervisor, manager, open_ticket, org_tree):
    ticket = open_ticket(assignee=None)
    response = post(
        login(supervisor), ticket, "dispatch", {"org_unit": org_tree["station"].pk, "assignee": manager.pk}
    )
    done(response, ticket)
    assert "工单已派出。" in flash(response)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == (Status.DISPATCHED, manager)


def test_sign_then_start(login, manager, open_ticket):
    ticket = open_ticket()
    client = login(manager)
    response = post(client, ticket, "sign")
    done(response, ticket)
    assert "已签收，系统已通知客户工单正在处理。" in flash(response)
    ticket.refresh_from_db()
    assert ticket.status == Status.SIGNED and ticket.signed_at
    response = post(client, ticket, "start")
    done(response, ticket)
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS


def test_send_back(login, manager, open_ticket):
    ticket = open_ticket()
    response = post(login(manager), ticket, "send-back", {"reason": "不属本所辖区"})
    done(response, ticket)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == (Status.RETURNED, None)
    assert ticket.events.get(action=Action.RETURNED).note == "不属本所辖区"


def test_transfer_with_a_tracker(login, manager, colleague, open_ticket, org_tree):
    ticket = open_ticket()
    receiver = UserFactory(org_unit=org_tree["sibling_station"], real_name="丹江经理")
    response = post(
        login(manager),
        ticket,
        "transfer",
        {
            "to_unit": org_tree["sibling_station"].pk,
            "to_user": receiver.pk,
            "tracker": colleague.pk,
            "reason": "属丹江供电所辖区",
        },
    )
    # The order left the manager's station, but the customer is theirs: they keep it.
    done(response, ticket)
    transfer = Transfer.objects.get()
    assert (transfer.to_unit, transfer.to_user, transfer.tracker) == (
        org_tree["sibling_station"],
        receiver,
        colleague,
    )
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee) == (Status.DISPATCHED, receiver)


def test_urge(login, supervisor, manager, open_ticket):
    ticket = open_ticket()
    response = post(login(supervisor), ticket, "urge", {"note": "客户第三次来电"})
    done(response, ticket)
    assert "已催办，处理人已收到提醒。" in flash(response)
    ticket.refresh_from_db()
    assert ticket.urge_count == 1
    assert Notification.objects.filter(recipient=manager, subject__contains="催办").exists()


def test_resolve_with_a_commitment(login, manager, open_ticket):
    ticket = open_signed(open_ticket, manager)
    response = post(
        login(manager),
        ticket,
        "resolve",
        {
            "resolution_kind": "options",
            "resolution": "提供两种改造方案供客户选择",
            "commitment": "下周完成表箱更换",
            "commitment_due": "2026-12-01",
        },
    )
    done(response, ticket)
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert (ticket.resolution_kind, str(ticket.commitment_due)) == ("options", "2026-12-01")
    assert ticket.return_visits.count() == 1


def test_return_visit_then_archive(login, manager, supervisor, open_ticket):
    ticket = open_signed(open_ticket, manager)
    services.ticket_resolve(ticket=ticket, by=manager, resolution="已复电")
    client = login(supervisor)
    response = post(
        client, ticket, "return-visit", {"method": "phone", "result": "satisfied", "note": "满意"}
    )
    done(response, ticket)
    visit = ticket.return_visits.get()
    assert (visit.result, visit.visited_by) == ("satisfied", supervisor)
    response = post(client, ticket, "archive")
    done(response, ticket)
    ticket.refresh_from_db()
    assert ticket.status == Status.ARCHIVED


def test_a_dissatisfied_visit_reopens(login, manager, supervisor, open_ticket):
    ticket = open_signed(open_ticket, manager)
    services.ticket_resolve(ticket=ticket, by=manager, resolution="已复电")
    post(login(supervisor), ticket, "return-visit", {"method": "sms", "result": "dissatisfied"})
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS


def test_reopen(login, manager, supervisor, open_ticket):
    ticket = open_signed(open_ticket, manager)
    services.ticket_resolve(ticket=ticket, by=manager, resolution="已复电")
    response = post(login(supervisor), ticket, "reopen", {"note": "故障复发"})
    done(response, ticket)
    ticket.refresh_from_db()
    assert ticket.status == Status.IN_PROGRESS
    assert ticket.events.get(action=Action.REOPENED).note == "故障复发"


def test_link(login, manager, open_ticket):
    ticket, other = open_ticket(), open_ticket(title="上次的报修")
    response = post(login(manager), ticket, "link", {"other": other.number.lower(), "note": "同一故障"})
    done(response, ticket)
    assert list(ticket.related.all()) == [other]


def test_a_png_is_attached(login, manager, open_ticket):
    ticket = open_ticket()
    upload = SimpleUploadedFile("现场照片.png", png_bytes(), content_type="image/png")
    response = post(login(manager), ticket, "attach", {"upload": upload})
    done(response, ticket)
    assert "图片已上传。" in flash(response)
    attachment = Attachment.objects.get()
    assert (attachment.ticket, attachment.content_type) == (ticket, "image/png")
    picture = login(manager).get(reverse("tickets:attachment", args=[ticket.number, attachment.pk]))
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"
    assert b"".join(picture.streaming_content) == png_bytes()


# --- bad input: a clear message, nothing changed, then the valid request goes through ------------


def test_a_renamed_program_is_refused(login, manager, open_ticket):
    ticket = open_ticket()
    client = login(manager)
    before = snapshot(ticket)
    program = SimpleUploadedFile("发票.png", b"MZ\x90\x00" + b"\0" * 2000, content_type="image/png")
    response = client.post(url(ticket, "attach"), {"upload": program})
    assert response.status_code == 200
    assert "只能上传JPG、JPEG或PNG格式的图片。" in text(response)
    assert snapshot(ticket) == before
    exe = SimpleUploadedFile("setup.exe", png_bytes())
    assert "文件扩展名与图片内容不符。" in text(client.post(url(ticket, "attach"), {"upload": exe}))
    assert snapshot(ticket) == before
    huge = SimpleUploadedFile("大图.png", png_bytes() + b"\0" * (6 * 1024 * 1024))
    assert "图片不能超过5MB。" in text(client.post(url(ticket, "attach"), {"upload": huge}))
    assert snapshot(ticket) == before
    png = SimpleUploadedFile("现场.png", png_bytes())
    assert client.post(url(ticket, "attach"), {"upload": png}).status_code == 302
    assert Attachment.objects.count() == 1


def test_a_transfer_without_a_reason(login, manager, colleague, open_ticket, org_tree):
    ticket = open_ticket()
    client = login(manager)
    data = {"to_unit": org_tree["sibling_station"].pk, "tracker": colleague.pk, "reason": "  "}
    before = snapshot(ticket)
    response = client.post(url(ticket, "transfer"), data)
    assert response.status_code == 200
    html = text(response)
    assert "请填写转办原因。" in html
    assert "“转办”未完成，请按提示修改后重新提交。" in html
    assert snapshot(ticket) == before
    data["reason"] = "属丹江供电所辖区"
    assert client.post(url(ticket, "transfer"), data).status_code == 302
    assert Transfer.objects.count() == 1


def test_a_transfer_to_someone_outside_the_receiving_unit(login, manager, colleague, open_ticket, org_tree):
    ticket = open_ticket()
    before = snapshot(ticket)
    data = {
        "to_unit": org_tree["sibling_station"].pk,
        "to_user": colleague.pk,  # sits in 雷山, not in 丹江
        "tracker": colleague.pk,
        "reason": "跨所处理",
    }
    response = login(manager).post(url(ticket, "transfer"), data)
    assert "接收人必须属于接收单位。" in text(response)
    assert snapshot(ticket) == before


def test_a_resolve_without_a_resolution(login, manager, open_ticket):
    ticket = open_signed(open_ticket, manager)
    client = login(manager)
    before = snapshot(ticket)
    response = client.post(url(ticket, "resolve"), {"resolution_kind": "direct", "resolution": ""})
    assert response.status_code == 200
    assert "请填写处理结果。" in text(response)
    assert snapshot(ticket) == before
    response = client.post(
        url(ticket, "resolve"),
        {"resolution_kind": "direct", "resolution": "已复电", "commitment": "明天回访"},
    )
    assert "有服务承诺时请填写承诺完成日期。" in text(response)  # the service's rule, shown on the form
    assert snapshot(ticket) == before
    response = client.post(url(ticket, "resolve"), {"resolution_kind": "direct", "resolution": "已复电"})
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED


def test_a_send_back_without_a_reason(login, manager, open_ticket):
    ticket = open_ticket()
    before = snapshot(ticket)
    response = login(manager).post(url(ticket, "send-back"), {"reason": ""})
    assert "请填写退回原因。" in text(response)
    assert snapshot(ticket) == before


def test_a_return_visit_without_a_result(login, manager, supervisor, open_ticket):
    ticket = open_signed(open_ticket, manager)
    services.ticket_resolve(ticket=ticket, by=manager, resolution="已复电")
    before = snapshot(ticket)
    response = login(supervisor).post(url(ticket, "return-visit"), {"method": "phone", "result": ""})
    assert "请选择回访结果。" in text(response)
    assert snapshot(ticket) == before


def test_linking_an_unknown_or_invisible_order(login, manager, open_ticket, org_tree, outsider):
    from tests.tickets.test_pages_support import foreign_customer

    ticket = open_ticket()
    theirs, _created = services.ticket_create(
        customer=foreign_customer(org_tree, outsider),
        opened_by=outsider,
        kind="repair",
        title="凯里",
        description="x",
    )
    client = login(manager)
    before = snapshot(ticket)
    for number in ("GD000000000000", theirs.number):
        response = client.post(url(ticket, "link"), {"other": number})
        assert f"未找到工单“{number}”，或您无权查看该工单。" in text(response)
    response = client.post(url(ticket, "link"), {"other": ticket.number})
    assert "不能关联工单本身。" in text(response)
    assert snapshot(ticket) == before


def test_a_step_the_status_does_not_allow_changes_nothing(login, manager, open_ticket):
    ticket = open_ticket()  # dispatched: not signed yet
    before = snapshot(ticket)
    response = post(login(manager), ticket, "start")
    assert response.redirect_chain == [(detail(ticket), 302)]
    assert any("不能执行“开始处理”" in message for message in flash(response))
    assert snapshot(ticket) == before


# --- roles ------------------------------------------------------------------------------------


def test_an_account_manager_posting_urge_gets_403(login, manager, open_ticket):
    ticket = open_ticket()
    before = snapshot(ticket)
    response = login(manager).post(url(ticket, "urge"), {"note": "催一下"})
    assert response.status_code == 403
    assert "您无权对该工单执行“催办”。" in text(response)
    assert snapshot(ticket) == before


def test_a_colleague_cannot_sign_or_resolve_someone_elses_order(login, colleague, manager, open_ticket):
    ticket = open_ticket()
    client = login(colleague)
    before = snapshot(ticket)
    assert client.post(url(ticket, "sign")).status_code == 403
    assert (
        client.post(url(ticket, "send-back"), {"reason": ""}).status_code == 403
    )  # 403 before any form check
    assert snapshot(ticket) == before


def test_a_supervisor_cannot_sign_for_the_assignee(login, supervisor, open_ticket):
    ticket = open_ticket()
    before = snapshot(ticket)
    assert login(supervisor).post(url(ticket, "sign")).status_code == 403
    assert snapshot(ticket) == before


def test_an_unknown_step_is_404(login, manager, open_ticket):
    assert login(manager).post(url(open_ticket(), "explode")).status_code == 404


def test_steps_only_take_posts(login, manager, open_ticket):
    assert login(manager).get(url(open_ticket(), "sign")).status_code == 405


# --- scope ------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", sorted(STEPS))
def test_the_outsider_gets_404_on_every_step(login, outsider, open_ticket, step):
    ticket = open_ticket()
    before = snapshot(ticket)
    response = login(outsider).post(url(ticket, step), {"note": "x", "reason": "x", "resolution": "x"})
    assert response.status_code == 404
    assert snapshot(ticket) == before


def test_the_outsider_gets_404_on_an_attachment(login, manager, outsider, open_ticket):
    ticket = open_ticket()
    attachment = services.attachment_add(
        ticket=ticket, by=manager, upload=SimpleUploadedFile("a.png", png_bytes())
    )
    response = login(outsider).get(reverse("tickets:attachment", args=[ticket.number, attachment.pk]))
    assert response.status_code == 404


def test_steps_need_a_login(client, open_ticket):
    ticket = open_ticket()
    response = client.post(url(ticket, "sign"))
    assert response.status_code == 302 and "login" in response["Location"]
    assert Ticket.objects.get(pk=ticket.pk).status == Status.DISPATCHED


# --- the people of a unit, for the dependent selects -----------------------------------------------


def test_the_staff_options_follow_the_chosen_unit(login, manager, colleague, org_tree):
    client = login(manager)
    html = text(client.get(reverse("tickets:staff_options"), {"to_unit": org_tree["station"].pk}))
    assert "张三" in html and "李四" in html
    html = text(client.get(reverse("tickets:staff_options"), {"org_unit": org_tree["sibling_station"].pk}))
    assert "张三" not in html
    assert text(client.get(reverse("tickets:staff_options"), {"to_unit": "x"})).count("<option") == 1


def test_handing_an_order_out_of_ones_scope_returns_to_the_list(
    login, manager, colleague, open_ticket, org_tree
):
    ticket = open_ticket(assignee=colleague)  # the customer is 张三's, the order 李四's
    data = {"to_unit": org_tree["sibling_station"].pk, "tracker": manager.pk, "reason": "属丹江供电所辖区"}
    response = login(colleague).post(url(ticket, "transfer"), data, follow=True)
    assert response.redirect_chain == [(reverse("tickets:list"), 302)]
    assert "工单已转办，跟踪人将持续跟进。" in flash(response)
