"""Work-order pages. Reads go through tickets.selectors, every step through tickets.services."""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.client import client_address
from core.forms import report_refusal
from core.htmx import is_htmx
from core.text import is_text
from groups.selectors import message_for_action
from tickets import forms, permissions, selectors, services
from tickets.models import Category, Kind, ReturnVisit, Ticket, TicketEvent
from tickets.permissions import TransitionError
from tickets.survey import SurveyLinkInvalid, survey_rate_exceeded

Action = TicketEvent.Action


@dataclass(frozen=True)
class Step:
    """One lifecycle step as a page offers it: the form that reads it and the service that takes it."""

    slug: str
    action: str
    form_class: type[forms.ActionForm]
    run: Callable[[Ticket, object, dict], object]
    submit: str
    done: str
    style: str = "outline-primary"

    @property
    def label(self) -> str:
        return str(Action(self.action).label)


STEPS: dict[str, Step] = {
    step.slug: step
    for step in (
        Step(
            "dispatch",
            Action.DISPATCHED,
            forms.DispatchForm,
            lambda t, u, d: services.ticket_dispatch(ticket=t, by=u, **d),
            gettext_lazy("确认派单"),
            gettext_lazy("工单已派出。"),
            "primary",
        ),
        Step(
            "reassign",
            Action.REASSIGNED,
            forms.ReassignForm,
            lambda t, u, d: services.ticket_reassign(ticket=t, by=u, **d),
            gettext_lazy("确认改派"),
            gettext_lazy("工单已改派，新处理人已收到通知。"),
        ),
        Step(
            "sign",
            Action.SIGNED,
            forms.EmptyForm,
            lambda t, u, d: services.ticket_sign(ticket=t, by=u),
            gettext_lazy("签收工单"),
            gettext_lazy("已签收，系统已通知客户工单正在处理。"),
            "primary",
        ),
        Step(
            "start",
            Action.STARTED,
            forms.EmptyForm,
            lambda t, u, d: services.ticket_start(ticket=t, by=u),
            gettext_lazy("开始处理"),
            gettext_lazy("工单已进入处理中。"),
            "primary",
        ),
        Step(
            "send-back",
            Action.RETURNED,
            forms.SendBackForm,
            lambda t, u, d: services.ticket_send_back(ticket=t, by=u, **d),
            gettext_lazy("确认退回"),
            gettext_lazy("工单已退回，等待重新派单。"),
            "outline-danger",
        ),
        Step(
            "transfer",
            Action.TRANSFERRED,
            forms.TransferForm,
            lambda t, u, d: services.ticket_transfer(ticket=t, by=u, **d),
            gettext_lazy("确认转办"),
            gettext_lazy("工单已转办，跟踪人将持续跟进。"),
        ),
        Step(
            "urge",
            Action.URGED,
            forms.UrgeForm,
            lambda t, u, d: services.ticket_urge(ticket=t, by=u, **d),
            gettext_lazy("确认催办"),
            gettext_lazy("已催办，处理人已收到提醒。"),
            "outline-warning",
        ),
        Step(
            "resolve",
            Action.RESOLVED,
            forms.ResolveForm,
            lambda t, u, d: services.ticket_resolve(ticket=t, by=u, **d),
            gettext_lazy("确认办结"),
            gettext_lazy("工单已办结，已安排回访并通知客户。"),
            "success",
        ),
        Step(
            "return-visit",
            Action.RETURN_VISIT,
            forms.ReturnVisitForm,
            lambda t, u, d: services.ticket_record_return_visit(ticket=t, by=u, **d),
            gettext_lazy("保存回访"),
            gettext_lazy("回访已记录。"),
            "success",
        ),
        Step(
            "keep-promise",
            Action.PROMISE_KEPT,
            forms.KeepPromiseForm,
            lambda t, u, d: services.ticket_keep_promise(ticket=t, by=u, **d),
            gettext_lazy("确认承诺已兑现"),
            gettext_lazy("服务承诺已标记为兑现。"),
            "outline-success",
        ),
        Step(
            "reopen",
            Action.REOPENED,
            forms.ReopenForm,
            lambda t, u, d: services.ticket_reopen(ticket=t, by=u, **d),
            gettext_lazy("确认重新处理"),
            gettext_lazy("工单已重新处理，办结时限重新计算。"),
            "outline-danger",
        ),
        Step(
            "archive",
            Action.ARCHIVED,
            forms.EmptyForm,
            lambda t, u, d: services.ticket_archive(ticket=t, by=u),
            gettext_lazy("归档"),
            gettext_lazy("工单已归档。"),
            "outline-secondary",
        ),
        Step(
            "link",
            Action.LINKED,
            forms.LinkForm,
            lambda t, u, d: services.ticket_link(ticket=t, by=u, **d),
            gettext_lazy("关联"),
            gettext_lazy("已关联工单。"),
        ),
        Step(
            "attach",
            Action.ATTACHED,
            forms.AttachmentForm,
            lambda t, u, d: services.attachment_add(ticket=t, by=u, **d),
            gettext_lazy("上传"),
            gettext_lazy("图片已上传。"),
        ),
    )
}
STEP_BY_ACTION = {step.action: step for step in STEPS.values()}


def _form(step: Step, ticket: Ticket, user, data=None, files=None) -> forms.ActionForm:
    return step.form_class(
        data, files, ticket=ticket, user=user, auto_id=f"id_{step.slug.replace('-', '_')}_%s"
    )


def _forbidden(request, ticket: Ticket | None, exc: PermissionDenied):
    message = str(exc) or _("您无权执行该操作。")
    return render(request, "tickets/forbidden.html", {"ticket": ticket, "message": message}, status=403)


# --- Pages ------------------------------------------------------------------------------


@login_required
@require_GET
def ticket_list(request):
    page = selectors.ticket_list(user=request.user, params=request.GET)
    context = {"page": page, "filter_form": page.filter_form, "filtered": page.filtered}
    template = "tickets/_results.html" if is_htmx(request) else "tickets/list.html"
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def ticket_create(request):
    number = request.GET.get("customer", "").strip()
    if not number:
        return render(request, "tickets/pick_customer.html", {"number": ""})
    customer = selectors.ticket_customer(user=request.user, number=number)
    if customer is None:
        # Out of scope or unknown: 404 either way, with a page that says what to do.
        return render(request, "tickets/pick_customer.html", {"number": number, "missing": True}, status=404)
    form = forms.TicketCreateForm(request.POST or None, customer=customer)
    if request.method == "POST" and form.is_valid():
        try:
            ticket, _created = services.ticket_create(
                customer=customer, opened_by=request.user, **form.service_fields()
            )
        except ValidationError as exc:
            report_refusal(form, exc)
        else:
            messages.success(request, _("工单 %(number)s 已受理。") % {"number": ticket.number})
            if ticket.is_repeat and ticket.repeat_of_id:
                messages.warning(
                    request,
                    _("该客户近期就同一事项投诉过，已标记为重复投诉并关联工单 %(number)s。")
                    % {"number": ticket.repeat_of.number},
                )
            return redirect("tickets:detail", number=ticket.number)
    return render(request, "tickets/create.html", {"form": form, "customer": customer})


def _render_detail(request, number: str, bound: dict | None = None):
    """The order's page with one form per step the user may take now (`bound`: a
    form that came back with errors, by action)."""
    user = request.user
    ticket = selectors.ticket_detail(user=user, number=number)
    bound = bound or {}

    def form_for(action: str) -> forms.ActionForm:
        return bound[action] if action in bound else _form(STEP_BY_ACTION[action], ticket, user)

    actions = [
        (STEP_BY_ACTION[action], form_for(action)) for action in permissions.allowed_actions(user, ticket)
    ]

    def extra(action: str):
        return form_for(action) if permissions.can(user, action, ticket) else None

    context = {
        "ticket": ticket,
        "actions": actions,
        "link_form": extra(Action.LINKED),
        "promise_form": extra(Action.PROMISE_KEPT),
        "promise_step": STEPS["keep-promise"],
        "reminders": selectors.ticket_reminders(ticket),
        "reminder_limit": selectors.REMINDER_LIMIT,
        "attach_form": extra(Action.ATTACHED),
        "contact_phone": selectors.contact_phone_shown_to(user, ticket),
        "steps": STEPS,
        "history": selectors.ticket_history(ticket, mask_phones=not ticket.full_phone_shown),
        "history_limit": selectors.HISTORY_LIMIT,
    }
    return render(request, "tickets/detail.html", context)


@login_required
@require_GET
def ticket_detail(request, number: str):
    return _render_detail(request, number)


@login_required
@require_POST
def ticket_action(request, number: str, action: str):
    """One lifecycle step: the service checks role and status, validates, writes.

    Out of scope: 404. Not allowed for the user's role: 403. Not allowed in the
    order's current status: an error message and nothing changed. Bad input:
    the order's page again, with the form showing what to fix.
    """
    step = STEPS.get(action)
    if step is None:
        raise Http404
    ticket = selectors.ticket_for_action(user=request.user, number=number)
    try:
        permissions.ticket_check(ticket=ticket, by=request.user, action=step.action)
    except TransitionError as exc:
        messages.error(request, "；".join(exc.messages))
        return redirect("tickets:detail", number=ticket.number)
    except PermissionDenied as exc:
        return _forbidden(request, ticket, exc)

    form = _form(step, ticket, request.user, request.POST, request.FILES)
    if form.is_valid():
        try:
            step.run(ticket, request.user, form.service_fields())
        except TransitionError as exc:
            messages.error(request, "；".join(exc.messages))
            return redirect("tickets:detail", number=ticket.number)
        except PermissionDenied as exc:
            return _forbidden(request, ticket, exc)
        except ValidationError as exc:
            report_refusal(form, exc)
        else:
            messages.success(request, str(step.done))
            if not selectors.ticket_is_visible(user=request.user, ticket=ticket):
                # Handed on out of the user's scope (a transfer): back to the list.
                return redirect("tickets:list")
            return redirect("tickets:detail", number=ticket.number)
    messages.error(request, _("“%(action)s”未完成，请按提示修改后重新提交。") % {"action": step.label})
    return _render_detail(request, ticket.number, bound={step.action: form})


@login_required
@require_GET
def ticket_attachment(request, number: str, pk: int):
    """A picture of a visible order, served only to those who may see the order."""
    ticket = selectors.ticket_for_action(user=request.user, number=number)
    attachment = selectors.attachment_of(ticket=ticket, pk=pk)
    return FileResponse(
        attachment.file.open("rb"),
        content_type=attachment.content_type,
        filename=attachment.original_name,
    )


@login_required
@require_GET
def unit_staff_options(request):
    """The <option>s of a unit's people, for the select that follows a unit choice (htmx)."""
    # An empty list rather than a 404 for a unit beyond reach: htmx swaps only a
    # 2xx answer, and a 404 would leave the previous unit's people in the select.
    user = request.user
    ticket = None
    if unit := request.GET.get("to_unit"):
        number = request.GET.get("ticket", "")
        if is_text(number):
            ticket = Ticket.objects.visible_to(user).select_related("org_unit").filter(number=number).first()
    else:
        unit = request.GET.get("org_unit")
    staff = forms.staff_options(user=user, unit_id=unit, ticket=ticket)
    return render(request, "tickets/_staff_options.html", {"staff": staff})


@login_required
@require_http_methods(["GET", "POST"])
def ticket_from_group_message(request, message_id: int):
    """转为工单: a customer's message in a service group becomes a work order.

    The message must be visible to the user (404 otherwise). GET shows the
    quoted message with the kind and category to choose; POST creates the
    order (or finds the one already made from it) and opens it.
    """
    message = message_for_action(user=request.user, pk=message_id)
    errors: dict = {}
    values = {"kind": Kind.INQUIRY if message.is_inquiry else Kind.COMPLAINT, "category": Category.OTHER}
    if request.method == "POST":
        values = {name: request.POST.get(name, "") for name in ("kind", "category", "title")}
        try:
            ticket, created = services.ticket_create_from_group_message(
                message=message, by=request.user, **values
            )
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        else:
            done = {"number": ticket.number}
            if created:
                messages.success(request, _("已将群消息转为工单 %(number)s。") % done)
            else:
                messages.info(request, _("该群消息已转为工单 %(number)s，未重复创建。") % done)
            if message.customer and message.customer.needs_one_to_one:
                messages.warning(request, _("该客户需一对一联系，不可仅发群消息。"))
            if selectors.ticket_is_visible(user=request.user, ticket=ticket):
                return redirect("tickets:detail", number=ticket.number)
            return redirect("groups:detail", pk=message.group_id)
    context = {
        "message": message,
        "kinds": Kind.choices,
        "categories": Category.choices,
        "values": values,
        "errors": errors,
    }
    return render(request, "groups/ticket_from_message.html", context, status=400 if errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def ticket_bulk(request):
    """批量催办/改派: GET shows the orders ticked on the list with the form; POST runs the
    step on each (services.tickets_bulk_*), reporting counts. Out-of-scope ids are counted,
    never named; each refused order says why."""
    if not permissions.can_bulk(request.user):
        return _forbidden(request, None, PermissionDenied(_("只有监控主管可以批量处理工单。")))
    data = request.POST if request.method == "POST" else request.GET
    ids = [int(v) for v in data.getlist("ids") if v.isdigit() and len(v) < 12][: services.BULK_LIMIT]
    if request.method == "GET":
        initial = {"ids": ids, "action": data.get("action", "urge")}
        form = forms.BulkForm(initial=initial, user=request.user)
    else:
        form = forms.BulkForm(data, user=request.user)
    if request.method == "POST" and form.is_valid():
        fields = form.cleaned_data
        try:
            if fields["action"] == "urge":
                result = services.tickets_bulk_urge(by=request.user, ids=fields["ids"], note=fields["reason"])
            else:
                result = services.tickets_bulk_reassign(
                    by=request.user,
                    ids=fields["ids"],
                    org_unit=fields["org_unit"],
                    assignee=fields["assignee"],
                    reason=fields["reason"],
                )
        except ValidationError as exc:
            report_refusal(form, exc)
        else:
            _report_bulk(request, result)
            return redirect("tickets:list")
    chosen = list(Ticket.objects.visible_to(request.user).filter(pk__in=ids).order_by("-id"))
    context = {"form": form, "chosen": chosen, "hidden_count": len(set(ids)) - len(chosen)}
    return render(request, "tickets/bulk.html", context, status=400 if form.errors else 200)


def _report_bulk(request, result: services.BulkResult) -> None:
    messages.success(
        request,
        _("批量处理完成：成功 %(done)s 张，未处理 %(refused)s 张，不在您范围内 %(hidden)s 张。")
        % {"done": len(result.done), "refused": len(result.refused), "hidden": result.out_of_scope},
    )
    for number, reason in result.refused:
        messages.warning(request, _("%(number)s 未处理：%(reason)s") % {"number": number, "reason": reason})


# --- The customer's own rating (no login) -------------------------------------------------


@require_http_methods(["GET", "POST"])
def survey(request, token: str):
    """满意度评价: the page the customer's SMS links to, phone-width, no login.

    A forged or expired link, or one already answered, says so and changes
    nothing; too many requests from one address answer 429.
    """
    if survey_rate_exceeded(client_address(request)):
        return _survey_page(request, "limited", status=429)
    try:
        visit = services.survey_visit(token=token)
    except SurveyLinkInvalid as exc:
        if exc.expired:
            return _survey_page(request, "expired", status=410)
        return _survey_page(request, "invalid", status=404)
    except services.SurveyClosed:
        return _survey_page(request, "used", status=410)
    values = {"result": "", "comment": ""}
    errors: dict = {}
    if request.method == "POST":
        values = {"result": request.POST.get("result", ""), "comment": request.POST.get("comment", "")}
        try:
            services.ticket_rate_by_customer(token=token, **values)
        except SurveyLinkInvalid:
            return _survey_page(request, "invalid", status=404)
        except services.SurveyClosed:
            return _survey_page(request, "used", status=410)
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        else:
            return _survey_page(request, "thanks")
    context = {"visit": visit, "values": values, "errors": errors, "results": ReturnVisit.Result.choices}
    return _survey_page(request, "form", status=400 if errors else 200, **context)


def _survey_page(request, state: str, status: int = 200, **context):
    return render(request, "tickets/survey.html", {"state": state, **context}, status=status)
