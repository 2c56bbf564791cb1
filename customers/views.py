"""Customer archive pages. Reads go through customers.selectors, writes through customers.services."""

import tempfile
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from crm.pagination import keyset_paginate
from customers import selectors, services
from customers.forms import ContactForm, CustomerForm
from customers.models import Contact
from customers.quality import archive_gaps

HISTORY_LIMIT = 50


def _save_or_report(form, write) -> object | None:
    """Run a service; a rule it rejects lands on the form, which is then shown again."""
    try:
        return write()
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            form.add_error(None, exc)
            return None
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return None


@login_required
@require_GET
def customer_list(request):
    filterset = selectors.customer_filterset(user=request.user, params=request.GET)
    page = keyset_paginate(filterset.qs, params=request.GET, page_size=settings.CUSTOMER_PAGE_SIZE)
    for customer in page.items:
        customer.shown_phone = selectors.phone_shown_to(request.user, customer, customer.primary_phone)
    return render(
        request,
        "customers/list.html",
        {"filter_form": filterset.form, "page": page, "filtered": bool(filterset.form.changed_data)},
    )


@login_required
@require_GET
def customer_export(request):
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("客户档案"))
    sheet.append(selectors.export_header())
    for row in selectors.customer_export_rows(user=request.user, params=request.GET):
        sheet.append([_export_cell(sheet, value) for value in row])
    # FileResponse closes the file once the download has been sent.
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    workbook.save(spool)
    spool.seek(0)
    filename = f"{_('客户档案')}-{timezone.localdate():%Y%m%d}.xlsx"
    return FileResponse(
        spool,
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def _export_cell(sheet, value):
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd hh:mm"
        return cell
    if isinstance(value, str) and value.startswith("="):
        # A name starting with "=" is text, never a formula in the recipient's spreadsheet.
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


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
    stations = list(selectors.stations_for(request.user)[:2])
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
