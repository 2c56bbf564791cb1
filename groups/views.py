"""Service-group pages. Reads go through groups.selectors, every write through groups.services.

Every page needs a login; a group, message or broadcast out of the user's
scope answers 404. A service's refusal for the user's role answers 403.
"""

from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.forms import report_refusal
from core.pickers import picker_response
from groups import forms, selectors
from groups.archive.sources import archive_configured
from groups.models import GroupKind, ReplyCategory
from groups.services import broadcasts as broadcast_services
from groups.services import groups as group_services
from groups.services import members as member_services
from groups.services import messages as message_services
from groups.services import reply_templates as template_services
from groups.services import wecom_sync


def _forbidden(request, exc: PermissionDenied, group=None):
    message = str(exc) or _("您无权执行该操作。")
    return render(request, "groups/forbidden.html", {"group": group, "message": message}, status=403)


# --- List ------------------------------------------------------------------------------


SORT_COLUMNS = [
    ("inquiries", gettext_lazy("近期咨询")),
    ("in_time", gettext_lazy("按时回复率")),
    ("median", gettext_lazy("响应时长中位数")),
    ("unanswered", gettext_lazy("待回复")),
    ("silent", gettext_lazy("负责人未发言")),
]


@login_required
@require_GET
def group_list(request):
    page = selectors.group_list(user=request.user, params=request.GET)
    show_owners = request.user.is_supervisor or request.user.is_administrator
    context = {
        "page": page,
        "kinds": GroupKind.choices,
        "owners": selectors.owner_options(user=request.user),
        "show_owners": show_owners,
        # Read by the template only when its cached owner table has expired (groups/list.html).
        "owner_health": partial(selectors.owner_health, user=request.user, now=page.now),
        "owner_scope": selectors.owner_health_scope(request.user),
        "owner_table_seconds": settings.GROUPS_OWNER_TABLE_SECONDS,
        "params": request.GET,
        "sort_columns": SORT_COLUMNS,
        "zombie_days": settings.GROUPS_ZOMBIE_SILENT_DAYS,
        "health_days": settings.GROUPS_HEALTH_DAYS,
    }
    return render(request, "groups/list.html", context)


# --- Create and edit -------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def group_create(request):
    form = forms.ServiceGroupForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            group = group_services.group_create(by=request.user, **form.service_fields())
        except ValidationError as exc:
            report_refusal(form, exc)
        else:
            messages.success(
                request, _("客户群“%(name)s”已建立，请在群内公告群规并亮明身份。") % {"name": group.name}
            )
            return redirect("groups:detail", pk=group.pk)
    return render(request, "groups/form.html", {"form": form, "group": None})


@login_required
@require_http_methods(["GET", "POST"])
def group_edit(request, pk: int):
    group = selectors.group_for_action(user=request.user, pk=pk)
    if not group_services.group_can_manage(user=request.user, group=group):
        return _forbidden(
            request, PermissionDenied(_("只有群负责人、本单位主管或系统管理员可以修改该群。")), group
        )
    form = forms.ServiceGroupForm(request.POST or None, user=request.user, group=group)
    if request.method == "POST" and form.is_valid():
        try:
            group_services.group_update(group=group, by=request.user, **form.service_fields())
        except PermissionDenied as exc:
            return _forbidden(request, exc, group)
        except ValidationError as exc:
            report_refusal(form, exc)
        else:
            messages.success(request, _("客户群信息已保存。"))
            return redirect("groups:detail", pk=group.pk)
    return render(request, "groups/form.html", {"form": form, "group": group})


@login_required
@require_POST
def group_archive(request, pk: int):
    group = selectors.group_for_action(user=request.user, pk=pk)
    try:
        group_services.group_archive(group=group, by=request.user)
    except PermissionDenied as exc:
        return _forbidden(request, exc, group)
    messages.success(request, _("客户群已归档，消息记录仍保留。"))
    return redirect("groups:detail", pk=group.pk)


# --- Detail ------------------------------------------------------------------------------


def _render_detail(request, pk: int, *, reply_form=None, message_form=None, member_form=None, status=200):
    user = request.user
    group = selectors.group_detail(
        user=user, pk=pk, log_page=selectors.message_log_page(request.GET.get("log_page"))
    )
    reply_to = request.GET.get("reply_to")
    initial = {"inquiry": reply_to} if reply_to and reply_to.isdigit() else None
    can_manage = group_services.group_can_manage(user=user, group=group)
    context = {
        "group": group,
        "can_manage": can_manage,
        "is_member": any(m.user_id == user.pk for m in group.staff_members),
        "reply_form": reply_form or forms.ReplyForm(initial=initial, group=group),
        "message_form": message_form or forms.MessageLogForm(group=group),
        "member_form": (member_form or forms.AddMemberForm(group=group)) if can_manage else None,
        "zombie_days": settings.GROUPS_ZOMBIE_SILENT_DAYS,
        "health_days": settings.GROUPS_HEALTH_DAYS,
        "template_categories": ReplyCategory.choices,
        "archive_on": archive_configured(),
    }
    return render(request, "groups/detail.html", context, status=status)


@login_required
@require_GET
def group_detail(request, pk: int):
    return _render_detail(request, pk)


@login_required
@require_http_methods(["GET", "POST"])
def message_log(request, pk: int):
    """GET: the message log (a partial for htmx). POST: log a customer's message by hand."""
    if request.method == "GET":
        log_page = selectors.message_log_page(request.GET.get("log_page"))
        group = selectors.group_detail(user=request.user, pk=pk, log_page=log_page)
        return render(request, "groups/_messages.html", {"group": group})
    group = selectors.group_for_action(user=request.user, pk=pk)
    form = forms.MessageLogForm(request.POST, group=group)
    if form.is_valid():
        try:
            message, _created = message_services.message_post(
                group=group, by=request.user, **form.service_fields()
            )
        except ValidationError as exc:
            report_refusal(form, exc)
        else:
            if message.is_inquiry:
                messages.success(
                    request,
                    _("已记录客户咨询，请在 %(due)s 前回复。")
                    % {"due": f"{timezone.localtime(message.response_due_at):%m-%d %H:%M}"},
                )
            else:
                messages.success(request, _("已记录客户消息。"))
            return redirect("groups:detail", pk=group.pk)
    messages.error(request, _("消息未记录，请按提示修改后重新提交。"))
    return _render_detail(request, pk, message_form=form, status=400)


@login_required
@require_POST
def reply(request, pk: int):
    group = selectors.group_for_action(user=request.user, pk=pk)
    form = forms.ReplyForm(request.POST, group=group)
    if form.is_valid():
        try:
            result = message_services.reply_post(group=group, by=request.user, **form.service_fields())
        except ValidationError as exc:
            report_refusal(form, exc)
        else:
            if result.already_answered:
                messages.info(request, _("该咨询已有人回复，您的回复已记入群消息。"))
            elif result.answered:
                note = _("已记录您在群内发出的回复，%(count)d 条咨询标记为已回复。")
                messages.success(request, note % {"count": len(result.answered)})
            else:
                messages.success(request, _("已记录您在群内的发言。"))
            return redirect("groups:detail", pk=group.pk)
    messages.error(request, _("回复未保存，请按提示修改后重新提交。"))
    return _render_detail(request, pk, reply_form=form, status=400)


@login_required
@require_POST
def group_join(request, pk: int):
    group = selectors.group_for_action(user=request.user, pk=pk)
    try:
        member_services.membership_add_staff(group=group, user=request.user, by=request.user)
    except PermissionDenied as exc:
        return _forbidden(request, exc, group)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(
            request,
            _("您已加入本群，群内将显示您的实名身份：%(card)s") % {"card": request.user.identity_card},
        )
    return redirect("groups:detail", pk=group.pk)


@login_required
@require_POST
def member_add(request, pk: int):
    group = selectors.group_for_action(user=request.user, pk=pk)
    form = forms.AddMemberForm(request.POST, group=group)
    if form.is_valid():
        try:
            added = _add_members(request, group, form.cleaned_data)
        except PermissionDenied as exc:
            return _forbidden(request, exc, group)
        except ValidationError as exc:
            report_refusal(form, exc)
        else:
            if added is not None:
                messages.success(request, _("已加入 %(count)d 位成员。") % {"count": added})
                return redirect("groups:detail", pk=group.pk)
    messages.error(request, _("成员未添加，请按提示修改后重新提交。"))
    return _render_detail(request, pk, member_form=form, status=400)


def _add_members(request, group, data) -> int | None:
    added = 0
    if data.get("user"):
        _membership, created = member_services.membership_add_staff(
            group=group, user=data["user"], by=request.user
        )
        added += int(created)
    number = data.get("customer_number")
    if number:
        customer = selectors.customer_by_number(user=request.user, number=number)
        if customer is None:
            raise ValidationError({"customer_number": _("未找到该户号的客户，或您无权查看该客户。")})
        contacts = list(customer.contacts.all())
        if not contacts:
            raise ValidationError({"customer_number": _("该客户档案中没有联系人，请先补充联系人。")})
        for contact in contacts:
            _membership, created = member_services.membership_add_contact(
                group=group, contact=contact, by=request.user
            )
            added += int(created)
    return added


@login_required
@require_POST
def member_leave(request, pk: int, member_pk: int):
    group = selectors.group_for_action(user=request.user, pk=pk)
    membership = get_object_or_404(group.memberships.active(), pk=member_pk)
    try:
        member_services.membership_leave(membership=membership, by=request.user)
    except PermissionDenied as exc:
        return _forbidden(request, exc, group)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, _("已记录该成员退群。"))
    return redirect("groups:detail", pk=group.pk)


@login_required
@require_POST
def add_district_customers(request, pk: int):
    group = selectors.group_for_action(user=request.user, pk=pk)
    try:
        added = member_services.group_add_district_customers(group=group, by=request.user)
    except PermissionDenied as exc:
        return _forbidden(request, exc, group)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        if added:
            messages.success(request, _("已将台区内 %(count)d 位客户联系人加入本群。") % {"count": added})
        else:
            messages.info(request, _("台区内的客户联系人都已在群中，没有新增成员。"))
    return redirect("groups:detail", pk=group.pk)


# --- WeCom customers not linked to the archive yet (未关联成员) -------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def unlinked_member_link(request, pk: int, member_pk: int):
    """GET: find the contact (户号, phone, name) among the customers the user sees. POST: link it."""
    group = selectors.group_for_action(user=request.user, pk=pk)
    member = selectors.unlinked_member_for_action(group=group, pk=member_pk)
    if not group_services.group_can_manage(user=request.user, group=group):
        return _forbidden(
            request, PermissionDenied(_("只有群负责人、本单位主管或系统管理员可以关联成员。")), group
        )
    form = forms.LinkContactForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            contact = selectors.contact_for_link(user=request.user, pk=form.cleaned_data["contact"])
            try:
                wecom_sync.unlinked_member_link(member=member, contact=contact, by=request.user)
            except PermissionDenied as exc:
                return _forbidden(request, exc, group)
            except ValidationError as exc:
                form.add_error(None, "；".join(exc.messages))
            else:
                messages.success(
                    request,
                    _("已将“%(member)s”关联为%(customer)s的联系人%(contact)s。")
                    % {
                        "member": member.name or member.userid,
                        "customer": contact.customer.name,
                        "contact": contact.name,
                    },
                )
                return redirect("groups:detail", pk=group.pk)
        status = 400
    term = request.GET.get("q", "")
    context = {
        "group": group,
        "member": member,
        "form": form,
        "term": term,
        "candidates": selectors.link_candidates(user=request.user, term=term),
    }
    return render(request, "groups/unlinked_link.html", context, status=status)


# --- Reply templates ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def template_list(request):
    form = forms.ReplyTemplateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            template_services.reply_template_create(by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            report_refusal(form, exc)
        else:
            messages.success(request, _("话术已保存，本单位及下级单位的同事都可以使用。"))
            return redirect("groups:templates")
    category = request.GET.get("category", "")
    context = {
        "form": form,
        "templates": selectors.reply_templates(
            user=request.user,
            q=request.GET.get("q", ""),
            category=category if category in ReplyCategory.values else "",
        ),
        "categories": ReplyCategory.choices,
        "params": request.GET,
    }
    return render(request, "groups/templates.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def template_search(request):
    """The matching templates as a list of buttons (htmx partial)."""
    category = request.GET.get("category", "")
    rows = selectors.reply_templates(
        user=request.user,
        q=request.GET.get("q", ""),
        category=category if category in ReplyCategory.values else "",
        limit=selectors.TEMPLATE_SEARCH_LIMIT,
    )
    return render(request, "groups/_template_results.html", {"templates": rows})


@login_required
@require_POST
def template_use(request, pk: int):
    """Count a use and give back the reply box filled with the template (htmx partial)."""
    template = selectors.reply_template_for_use(user=request.user, pk=pk)
    template_services.reply_template_use(template=template, by=request.user)
    return render(request, "groups/_reply_text.html", {"text": template.body})


# --- Broadcasts ---------------------------------------------------------------------------


@login_required
@require_GET
def broadcast_list(request):
    return render(
        request, "groups/broadcasts.html", {"broadcasts": selectors.broadcast_list(user=request.user)}
    )


@login_required
@require_http_methods(["GET", "POST"])
def broadcast_create(request):
    """The composer: "预览" shows the message as customers will read it; "发布" saves it."""
    form = forms.BroadcastForm(request.POST or None, user=request.user)
    preview = None
    if request.method == "POST" and form.is_valid():
        if "preview" in request.POST:
            preview = form.cleaned_data
        else:
            try:
                broadcast = broadcast_services.broadcast_create(by=request.user, **form.service_fields())
            except ValidationError as exc:
                report_refusal(form, exc)
            else:
                if broadcast.is_published:
                    messages.success(
                        request,
                        _(
                            "已记入 %(groups)d 个群的消息记录（本系统不代发，请在企业微信群里发出），"
                            "并为 %(people)d 位重点客户安排了点对点通知。"
                        )
                        % {"groups": len(form.cleaned_data["groups"]), "people": broadcast.personal_notices},
                    )
                else:
                    messages.success(request, _("已安排定时发布。"))
                return redirect("groups:broadcast_detail", pk=broadcast.pk)
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "groups/broadcast_form.html", {"form": form, "preview": preview}, status=status)


@login_required
@require_GET
def broadcast_detail(request, pk: int):
    broadcast = selectors.broadcast_detail(user=request.user, pk=pk)
    return render(
        request,
        "groups/broadcast_detail.html",
        {"broadcast": broadcast, "delivery": selectors.broadcast_delivery(broadcast)},
    )


@login_required
@require_POST
def broadcast_publish(request, pk: int):
    broadcast = selectors.broadcast_detail(user=request.user, pk=pk)
    try:
        result = broadcast_services.broadcast_publish(broadcast=broadcast, by=request.user)
    except PermissionDenied as exc:
        return _forbidden(request, exc)
    if result.published:
        messages.success(
            request,
            _("已发布，并点对点发送给 %(people)d 位重点客户。") % {"people": result.personal_notices},
        )
    else:
        messages.info(request, _("该群发已经发布过，没有重复发送。"))
    return redirect("groups:broadcast_detail", pk=broadcast.pk)


@login_required
@require_GET
def picker_owners(request):
    """Who the user may make responsible for a group (core.pickers), by name or username."""
    return picker_response(
        request,
        selectors.owners_for(request.user),
        search=("real_name", "username"),
        label=lambda person: person.identity_card,
    )
