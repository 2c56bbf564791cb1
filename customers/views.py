"""Customer archive pages. Reads go through customers.selectors, writes through customers.services."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.choices import stations_for
from core.forms import report_refusal
from core.htmx import is_htmx
from core.pickers import picker_response
from core.text import is_text
from core.xlsx import CONTENT_TYPE as XLSX_CONTENT_TYPE
from core.xlsx import Sheet, workbook_file
from customers import exports, selectors, services
from customers.forms import ContactForm, CustomerForm
from customers.interactions import services as interaction_services
from customers.interactions.forms import InteractionForm
from customers.models import Contact, ExportJob
from customers.quality import archive_gaps
from customers.visits import selectors as visit_selectors
from customers.visits import services as visit_services
from customers.visits.forms import VisitCompleteForm, VisitForm

HISTORY_LIMIT = 50


def _save_or_report(form, write) -> object | None:
    """Run a service; a rule it rejects lands on the form, which is then shown again."""
    try:
        return write()
    except ValidationError as exc:
        report_refusal(form, exc)
        return None


@login_required
@require_GET
def customer_list(request):
    filterset = selectors.customer_filterset(user=request.user, params=request.GET)
    page = selectors.customer_page(
        user=request.user, customers=filterset.qs, params=request.GET, page_size=settings.CUSTOMER_PAGE_SIZE
    )
    for customer in page.items:
        customer.shown_phone = selectors.phone_shown_to(request.user, customer, customer.primary_phone)
    return render(
        request,
        "customers/list.html",
        {
            "filter_form": filterset.form,
            "page": page,
            "filtered": bool(filterset.form.changed_data),
            "search": filterset.search,
        },
    )


@login_required
@require_GET
def customer_export(request):
    """A small list's workbook at once; a larger one is written by a worker (customers.exports)."""
    if not exports.fits_inline(user=request.user, params=request.GET):
        job = exports.export_job_request(user=request.user, query=request.GET)
        return redirect("customers:export_detail", pk=job.pk)
    rows = selectors.customer_export_rows(user=request.user, params=request.GET)
    workbook = workbook_file([Sheet(_("客户档案"), selectors.export_header(), rows)])
    # FileResponse closes the file once the download has been sent.
    return FileResponse(
        workbook, as_attachment=True, filename=exports.export_filename(), content_type=XLSX_CONTENT_TYPE
    )


def _export_job_of(request, pk: int) -> ExportJob:
    """The user's own export job; anyone else's is a 404 (its rows are its creator's scope)."""
    try:
        return request.user.export_jobs.get(pk=pk)
    except ExportJob.DoesNotExist:
        raise Http404 from None


@login_required
@require_GET
def customer_export_detail(request, pk: int):
    job = _export_job_of(request, pk)
    context = {"job": job, "keep_hours": settings.CUSTOMER_EXPORT_KEEP_HOURS}
    if is_htmx(request):
        return render(request, "customers/export_progress.html", context)
    context["list_query"] = exports.query_of(job.params).urlencode()
    return render(request, "customers/export_detail.html", context)


@login_required
@require_GET
def customer_export_download(request, pk: int):
    job = _export_job_of(request, pk)
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Http404
    try:
        handle = job.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(
        handle, as_attachment=True, filename=exports.download_name(job), content_type=XLSX_CONTENT_TYPE
    )


@login_required
@require_http_methods(["GET", "POST"])
def customer_create(request):
    form = CustomerForm(request.POST or None, user=request.user, initial=_create_initial(request))
    if request.method == "POST" and form.is_valid():
        customer = _save_or_report(
            form, lambda: services.customer_create(created_by=request.user, **form.service_fields())
        )
        if customer is not None:
            messages.success(request, _("客户档案已建立。"))
            return redirect("customers:detail", number=customer.number)
    return render(request, "customers/customer_form.html", {"form": form, "customer": None})


def _create_initial(request) -> dict:
    stations = list(stations_for(request.user)[:2])
    initial = {"station": stations[0].pk} if len(stations) == 1 else {}
    if request.user.is_account_manager:
        initial["manager"] = request.user.pk
    return initial


@login_required
@require_GET
def customer_detail(request, number: str):
    customer = selectors.customer_detail(user=request.user, number=number)
    owner = customer.owned_by(request.user)
    contacts = list(customer.contacts.all())
    for contact in contacts:
        contact.shown_mobile = selectors.phone_shown_to(request.user, customer, contact.mobile)
        contact.shown_landline = selectors.phone_shown_to(request.user, customer, contact.landline)
    return render(
        request,
        "customers/detail.html",
        {
            "customer": customer,
            "contacts": contacts,
            "gaps": archive_gaps(customer, contacts),
            "history": selectors.customer_history(customer, limit=HISTORY_LIMIT, mask_phones=not owner),
            "history_limit": HISTORY_LIMIT,
            "can_delete": services.customer_can_delete(user=request.user, customer=customer),
            "stale_days": settings.ARCHIVE_STALE_DAYS,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def customer_edit(request, number: str):
    customer = selectors.customer_detail(user=request.user, number=number)
    form = CustomerForm(request.POST or None, instance=customer, user=request.user)
    if request.method == "POST" and form.is_valid():
        saved = _save_or_report(
            form,
            lambda: services.customer_update(
                customer=customer, updated_by=request.user, **form.service_fields()
            ),
        )
        if saved is not None:
            messages.success(request, _("客户档案已保存。"))
            return redirect("customers:detail", number=saved.number)
    return render(request, "customers/customer_form.html", {"form": form, "customer": customer})


@login_required
@require_POST
def customer_verify(request, number: str):
    customer = selectors.customer_detail(user=request.user, number=number)
    try:
        services.customer_mark_verified(customer=customer, user=request.user)
    except ValidationError as exc:
        errors = "；".join(exc.messages)
        messages.error(request, _("档案有误，请先修改后再核实：%(errors)s") % {"errors": errors})
    else:
        messages.success(request, _("已标记档案已核实。"))
    return redirect("customers:detail", number=customer.number)


@login_required
@require_POST
def customer_delete(request, number: str):
    customer = selectors.customer_detail(user=request.user, number=number)
    services.customer_soft_delete(customer=customer, user=request.user)
    messages.success(request, _("客户档案“%(name)s”已删除。") % {"name": customer.name})
    return redirect("customers:list")


@login_required
@require_http_methods(["GET", "POST"])
def contact_create(request, number: str):
    customer = selectors.customer_detail(user=request.user, number=number)
    has_primary = any(contact.is_primary for contact in customer.contacts.all())
    form = ContactForm(
        request.POST or None,
        instance=Contact(customer=customer),
        initial={"is_primary": not has_primary},
        reveal_phones=True,
    )
    if request.method == "POST" and form.is_valid():
        contact = _save_or_report(
            form,
            lambda: services.contact_create(customer=customer, user=request.user, **form.cleaned_data),
        )
        if contact is not None:
            messages.success(request, _("联系人已添加。"))
            return redirect("customers:detail", number=customer.number)
    return render(
        request, "customers/contact_form.html", {"form": form, "customer": customer, "contact": None}
    )


@login_required
@require_http_methods(["GET", "POST"])
def contact_edit(request, number: str, pk: int):
    customer = selectors.customer_detail(user=request.user, number=number)
    contact = selectors.contact_of(customer=customer, pk=pk)
    form = ContactForm(request.POST or None, instance=contact, reveal_phones=customer.owned_by(request.user))
    if request.method == "POST" and form.is_valid():
        saved = _save_or_report(
            form, lambda: services.contact_update(contact=contact, user=request.user, **form.cleaned_data)
        )
        if saved is not None:
            messages.success(request, _("联系人已保存。"))
            return redirect("customers:detail", number=customer.number)
    return render(
        request, "customers/contact_form.html", {"form": form, "customer": customer, "contact": contact}
    )


@login_required
@require_POST
def contact_delete(request, number: str, pk: int):
    customer = selectors.customer_detail(user=request.user, number=number)
    contact = selectors.contact_of(customer=customer, pk=pk)
    services.contact_delete(contact=contact, user=request.user)
    messages.success(request, _("联系人“%(name)s”已删除。") % {"name": contact.name})
    return redirect("customers:detail", number=customer.number)


# --- Contact log and visits ------------------------------------------------------------


def _log_contact(request, *, customer=None):
    form = InteractionForm(request.POST or None, user=request.user, customer=customer)
    if request.method == "POST" and form.is_valid():
        target = customer or form.cleaned_data["customer"]
        interaction = _save_or_report(
            form,
            lambda: interaction_services.interaction_log(
                customer=target, staff=request.user, created_by=request.user, **form.service_fields()
            ),
        )
        if interaction is not None:
            messages.success(request, _("联系记录已保存。"))
            if interaction_services.interaction_suggests_ticket(interaction):
                messages.warning(
                    request,
                    _("该客户为重点客户且情绪愤怒，建议立即创建工单跟踪处理，并安排一对一沟通。"),
                )
            return redirect("customers:detail", number=target.number)
    return render(request, "customers/interaction_form.html", {"form": form, "customer": customer})


@login_required
@require_http_methods(["GET", "POST"])
def interaction_quick_create(request):
    """The header's "记录联系": the customer is picked by number (only visible ones)."""
    number = request.GET.get("customer")
    if number:
        # Text that cannot be a customer's address names no customer: 404, as an unknown number does.
        try:
            url = reverse("customers:interaction_create", kwargs={"number": number})
        except NoReverseMatch:
            raise Http404 from None
        if not is_text(number):
            raise Http404
        return redirect(url)
    return _log_contact(request)


@login_required
@require_http_methods(["GET", "POST"])
def interaction_create(request, number: str):
    customer = selectors.customer_row(user=request.user, number=number)
    return _log_contact(request, customer=customer)


@login_required
@require_http_methods(["GET", "POST"])
def visit_create(request, number: str):
    customer = selectors.customer_row(user=request.user, number=number)
    form = VisitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        visit = _save_or_report(
            form,
            lambda: visit_services.visit_schedule(
                customer=customer, staff=request.user, created_by=request.user, **form.cleaned_data
            ),
        )
        if visit is not None:
            messages.success(request, _("走访已安排。"))
            return redirect("customers:visit_planner")
    return render(request, "customers/visit_form.html", {"form": form, "customer": customer})


@login_required
@require_GET
def visit_planner(request):
    """我的走访: the user's visits of this week, earliest first, and open ones left from before."""
    return render(
        request,
        "customers/visit_planner.html",
        {
            "visits": visit_selectors.visits_of_week(user=request.user),
            "overdue": visit_selectors.overdue_visits(user=request.user),
            "complete_form": VisitCompleteForm(),
        },
    )


def _visit_action(request, pk: int, write, success: str):
    visit = visit_selectors.visit_of(user=request.user, pk=pk)
    try:
        write(visit)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, success)
    return redirect("customers:visit_planner")


@login_required
@require_POST
def visit_confirm(request, pk: int):
    return _visit_action(
        request,
        pk,
        lambda visit: visit_services.visit_confirm(visit=visit, user=request.user),
        _("已确认与客户的预约。"),
    )


@login_required
@require_POST
def visit_prepare(request, pk: int):
    fields = {
        "prep_basics_reviewed": request.POST.get("prep_basics_reviewed") == "on",
        "prep_cause": request.POST.get("prep_cause", ""),
        "prep_solution": request.POST.get("prep_solution", ""),
    }
    return _visit_action(
        request,
        pk,
        lambda visit: visit_services.visit_prepare(visit=visit, user=request.user, **fields),
        _("走访准备已保存。"),
    )


@login_required
@require_POST
def visit_complete(request, pk: int):
    outcome = request.POST.get("outcome", "")
    return _visit_action(
        request,
        pk,
        lambda visit: visit_services.visit_complete(visit=visit, user=request.user, outcome=outcome),
        _("走访已完成。"),
    )


# --- Archive import (customers.imports) -----------------------------------------------

from django import forms as django_forms  # noqa: E402
from django.utils.translation import gettext_lazy  # noqa: E402

IMPORT_ERRORS_PER_PAGE = 200


class ImportUploadForm(django_forms.Form):
    file = django_forms.FileField(label=gettext_lazy("文件"))


def _import_job_of(request, pk: int):
    from django.shortcuts import get_object_or_404

    from customers.models import ImportJob

    jobs = ImportJob.objects.all() if request.user.is_administrator else request.user.import_jobs.all()
    return get_object_or_404(jobs.defer("content"), pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def customer_import(request):
    from customers import imports

    may_import = stations_for(request.user).exists()
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and may_import and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            # Before reading it into memory.
            imports.check_size(upload.size)
            job = imports.import_job_create(user=request.user, file_name=upload.name, content=upload.read())
        except imports.ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("customers:import_detail", pk=job.pk)
    return render(
        request,
        "customers/import_upload.html",
        {
            "form": form,
            "may_import": may_import,
            "headers": imports.HEADERS,
            "max_mb": settings.CUSTOMER_IMPORT_MAX_MB,
        },
    )


@login_required
@require_GET
def customer_import_template(request):
    from django.http import HttpResponse

    from customers import imports

    response = HttpResponse(imports.import_template(), content_type=imports.content_type("xlsx"))
    response["Content-Disposition"] = "attachment; filename*=UTF-8''import-template.xlsx"
    return response


@login_required
@require_GET
def customer_import_detail(request, pk: int):
    from django.core.paginator import Paginator
    from django.http import HttpResponse

    job = _import_job_of(request, pk)
    if is_htmx(request):
        if not job.is_running:
            # The preview or the summary replaces the progress bar: load the whole page again.
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        return render(request, "customers/import_progress.html", {"job": job})
    errors = Paginator(job.errors, IMPORT_ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "customers/import_detail.html", {"job": job, "errors": errors})


@login_required
@require_POST
def customer_import_confirm(request, pk: int):
    from customers import imports

    job = _import_job_of(request, pk)
    if imports.import_job_confirm(job=job):
        messages.success(request, _("已确认导入，正在写入客户档案。"))
    else:
        messages.info(request, _("该文件已确认过或尚未校验完成，不会重复导入。"))
    return redirect("customers:import_detail", pk=job.pk)


# --- Pickers: the choices a form's searchable select offers (core.pickers) -------------


@login_required
@require_GET
def picker_districts(request):
    """Districts the user sees whose name or code contains `q`; `station`, `line` narrow them."""
    return picker_response(
        request,
        selectors.districts_for(request.user),
        search=("name", "code"),
        filters={
            "station": lambda rows, pk: rows.filter(station_id=pk),
            "line": lambda rows, pk: rows.filter(line_id=pk),
        },
    )


@login_required
@require_GET
def picker_lines(request):
    """Lines the user sees whose name or code contains `q`; `district` narrows them to the
    line that district hangs on (a district the user does not see narrows them to none)."""
    user = request.user
    return picker_response(
        request,
        selectors.lines_for(user),
        search=("name", "code"),
        filters={
            "station": lambda rows, pk: rows.filter(station_id=pk),
            "district": lambda rows, pk: rows.filter(
                pk__in=selectors.districts_for(user).filter(pk=pk).values("line_id")
            ),
        },
    )
