"""Reply templates (话术) shared with a unit and everyone below it."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.models import OrgUnit, User
from core.validation import refuse_non_text
from groups.models import ReplyCategory, ReplyTemplate
from groups.selectors import template_units_for


@transaction.atomic
def reply_template_create(
    *, by: User, title: str, body: str, category: str, org_unit: OrgUnit | None = None
) -> ReplyTemplate:
    """Share a reply (话术) with a unit and everyone below it (default: the author's unit)."""
    errors: dict[str, str] = {}
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        errors["title"] = _("请填写标题。")
    if not body:
        errors["body"] = _("请填写话术内容。")
    if category not in ReplyCategory.values:
        errors["category"] = _("请选择分类。")
    unit = org_unit or (by.org_unit if by.org_unit_id else None)
    if unit is None or not template_units_for(by).filter(pk=unit.pk).exists():
        errors["org_unit"] = _("只能共享到本单位（主管可共享到辖区内的单位）。")
    if errors:
        raise ValidationError(errors)
    template = ReplyTemplate(title=title, body=body, category=category, org_unit=unit, created_by=by)
    refuse_non_text(template)
    template.full_clean()
    template.save()
    return template


@transaction.atomic
def reply_template_use(*, template: ReplyTemplate, by: User) -> ReplyTemplate:
    """Count one use (F() update, so concurrent uses all count)."""
    ReplyTemplate.objects.filter(pk=template.pk).update(use_count=F("use_count") + 1)
    template.refresh_from_db(fields=["use_count"])
    return template
