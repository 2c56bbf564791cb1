"""Groups: their shape, who manages them, opening, changing and archiving them.

"谁建群谁负责": a group has one responsible owner; its rules (群规) are set
when it is created; a 台区群 belongs to a district, a 线路群 to a line.
The checks at the top (who manages a group, whether it is archived, its row
lock) are shared by every write to a group in this package.
"""

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.validation import check_field_names, text_errors
from customers.models import District, Line
from groups.models import GROUP_FIELDS, GroupKind, Membership, ServiceGroup
from groups.selectors import owners_for

# Rows per INSERT of the package's set-based writes.
INSERT_BATCH = 1000


# --- Who may do what ----------------------------------------------------------------


def group_can_manage(*, user: User, group: ServiceGroup) -> bool:
    """The owner, a supervisor whose unit holds the group's unit, or an administrator."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_administrator or group.owner_id == user.pk:
        return True
    return bool(user.is_supervisor and user.org_unit_id and group.org_unit.is_within(user.org_unit))


def require_manager(user: User, group: ServiceGroup) -> None:
    if not group_can_manage(user=user, group=group):
        raise PermissionDenied(_("只有群负责人、本单位主管或系统管理员可以管理该群。"))


def require_active(group: ServiceGroup) -> None:
    if group.archived_at is not None:
        raise ValidationError(_("该群已归档，不能再修改或记录消息。"))


def lock_group(group: ServiceGroup) -> ServiceGroup:
    """Re-read the group under a row lock: writes to one group take turns."""
    return ServiceGroup.objects.select_for_update().select_related("org_unit", "owner").get(pk=group.pk)


# --- Groups -----------------------------------------------------------------------------


def _validate_group(group: ServiceGroup, *, by: User, owner_changed: bool) -> None:
    """The rules of a group's shape; all errors at once, by field."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not (group.name or "").strip():
        add("name", _("请填写群名称。"))
    if not (group.rules or "").strip():
        add("rules", _("请填写群规：建群的同时就要制定群规，并公告群内所有人共同遵守。"))
    if group.kind not in GroupKind.values:
        add("kind", _("请选择群类型。"))
    if group.kind == GroupKind.DISTRICT and not group.district_id:
        add("district", _("台区群须选择所在台区。"))
    if group.kind == GroupKind.LINE and not group.line_id:
        add("line", _("线路群须选择所在线路。"))
    if group.kind != GroupKind.DISTRICT and group.district_id:
        add("district", _("只有台区群可以选择台区。"))
    if group.kind != GroupKind.LINE and group.line_id:
        add("line", _("只有线路群可以选择线路。"))
    if group.kind == GroupKind.PUBLIC and not (group.host_organization or "").strip():
        add("host_organization", _("公共服务群请填写建群单位，例如镇政府、村委会或社区居委会。"))
    owner = group.owner if group.owner_id else None
    if owner is None or not owner.org_unit_id or not owner.is_active:
        add("owner", _("请选择在职且有所属单位的负责人。"))
    elif owner_changed and not owners_for(by).filter(pk=owner.pk).exists():
        add("owner", _("您只能为本人或本单位辖区内的人员建群。"))
    elif "kind" not in errors:
        unit = owner.org_unit
        if group.district_id and "district" not in errors and not group.district.station.is_within(unit):
            add(
                "district",
                _("台区「%(area)s」不在%(unit)s的辖区内。")
                % {"area": group.district.name, "unit": unit.name},
            )
        if group.line_id and "line" not in errors and not group.line.station.is_within(unit):
            add(
                "line",
                _("线路「%(area)s」不在%(unit)s的辖区内。") % {"area": group.line.name, "unit": unit.name},
            )
    for name, messages in text_errors(group).items():
        errors.setdefault(name, []).extend(messages)
    if not errors:
        try:
            # The WeChat id's uniqueness is answered by field (_external_id_taken), not by constraint name.
            group.full_clean(exclude=["org_unit"], validate_constraints=False)
            group.validate_constraints(exclude={"org_unit", "external_id"})
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def _external_id_taken(group: ServiceGroup) -> bool:
    return bool(group.external_id) and ServiceGroup.objects.filter(external_id=group.external_id).exists()


def _refuse_external_id() -> None:
    raise ValidationError({"external_id": _("已有客户群使用该外部群号。")})


def _join_staff(group: ServiceGroup, user: User) -> Membership:
    membership = Membership.objects.active().filter(group=group, user=user).first()
    if membership is None:
        membership = Membership.objects.create(group=group, user=user)
    return membership


@transaction.atomic
def group_create(
    *,
    by: User,
    name: str,
    kind: str,
    rules: str,
    owner: User | None = None,
    announcement: str = "",
    audience: str = "",
    host_organization: str = "",
    district: District | None = None,
    line: Line | None = None,
    external_id: str = "",
) -> ServiceGroup:
    """Open a group. Its rules (群规) are required; a 台区群 needs a district and
    a 线路群 a line inside the owner's unit; a 公共服务群 names who set it up.

    The owner (default: the creator; a supervisor may name someone in their
    subtree) answers for the group and joins it at once as a staff member.
    """
    owner = owner or by
    group = ServiceGroup(
        name=(name or "").strip(),
        kind=kind,
        rules=(rules or "").strip(),
        announcement=(announcement or "").strip(),
        audience=(audience or "").strip(),
        host_organization=(host_organization or "").strip(),
        owner=owner,
        district=district,
        line=line,
        external_id=external_id,
        created_by=by,
    )
    _validate_group(group, by=by, owner_changed=True)
    if _external_id_taken(group):
        _refuse_external_id()
    group.org_unit_id = owner.org_unit_id
    try:
        with transaction.atomic():
            group.save()
    except IntegrityError:
        # A concurrent create with the same WeChat id got there first.
        if _external_id_taken(group):
            _refuse_external_id()
        raise
    _join_staff(group, owner)
    return group


@transaction.atomic
def group_update(*, group: ServiceGroup, by: User, **fields: Any) -> ServiceGroup:
    """Change a group under the rules of `group_create` (the rules stay required).

    Only its manager may. A new owner moves the group to the owner's unit
    and joins it as a staff member; the former owner stays a member.
    """
    check_field_names(fields, GROUP_FIELDS)
    current = lock_group(group)
    require_manager(by, current)
    require_active(current)
    for name in ("name", "rules", "announcement", "audience", "host_organization"):
        if name in fields:
            fields[name] = (fields[name] or "").strip()
    owner_changed = (
        "owner" in fields and fields["owner"] is not None and fields["owner"].pk != current.owner_id
    )
    for name, value in fields.items():
        setattr(current, name, value)
    _validate_group(current, by=by, owner_changed=owner_changed)
    current.org_unit_id = current.owner.org_unit_id
    current.save()
    if owner_changed:
        _join_staff(current, current.owner)
    return current


@transaction.atomic
def group_archive(*, group: ServiceGroup, by: User) -> ServiceGroup:
    """Archive a dissolved group: it leaves lists and scans; its log is kept."""
    current = lock_group(group)
    require_manager(by, current)
    if current.archived_at is None:
        current.archived_at = timezone.now()
        current.save(update_fields=["archived_at", "updated_at"])
    return current
