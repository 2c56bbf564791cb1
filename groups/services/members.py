"""Members of a group: customers' contacts and staff joining and leaving.

Staff show their real-name identity card in the group; a 台区群 can take in
every contact of its district at once.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from customers.models import Contact, Customer
from groups.models import GroupKind, Membership, ServiceGroup
from groups.services.groups import INSERT_BATCH, lock_group, require_active, require_manager


@transaction.atomic
def membership_add_contact(*, group: ServiceGroup, contact: Contact, by: User) -> tuple[Membership, bool]:
    """Add a customer's contact; returns (membership, created). Someone already
    in the group is left as is. The contact's customer must be one `by` sees."""
    current = lock_group(group)
    require_manager(by, current)
    require_active(current)
    if not Customer.objects.visible_to(by).filter(pk=contact.customer_id).exists():
        raise ValidationError({"contact": _("您无权将该客户加入群。")})
    existing = Membership.objects.active().filter(group=current, contact=contact).first()
    if existing:
        return existing, False
    return Membership.objects.create(group=current, contact=contact), True


@transaction.atomic
def membership_add_staff(*, group: ServiceGroup, user: User, by: User) -> tuple[Membership, bool]:
    """Add a staff member (who shows their real-name identity card in the group).

    The group's manager may add anyone active with a unit; any user who sees
    the group may join it themselves.
    """
    current = lock_group(group)
    if user.pk != by.pk:
        require_manager(by, current)
    elif not ServiceGroup.objects.visible_to(by).filter(pk=current.pk).exists():
        raise PermissionDenied(_("您无权加入该群。"))
    require_active(current)
    if not user.is_active or not user.org_unit_id:
        raise ValidationError({"user": _("只能添加在职且有所属单位的工作人员。")})
    existing = Membership.objects.active().filter(group=current, user=user).first()
    if existing:
        return existing, False
    return Membership.objects.create(group=current, user=user), True


@transaction.atomic
def membership_leave(*, membership: Membership, by: User) -> Membership:
    """Record that someone left. The owner cannot leave the group they answer for;
    a staff member may leave by themselves, anyone else is removed by the manager."""
    current = Membership.objects.select_for_update().select_related("group__org_unit").get(pk=membership.pk)
    group = current.group
    if not (current.user_id and current.user_id == by.pk):
        require_manager(by, group)
    if current.user_id and current.user_id == group.owner_id:
        raise ValidationError(_("群负责人不能退出本群；如需移交，请先在编辑中更换负责人。"))
    if current.left_at is None:
        current.left_at = timezone.now()
        current.save(update_fields=["left_at"])
    return current


@transaction.atomic
def group_add_district_customers(*, group: ServiceGroup, by: User) -> int:
    """Bring every contact of every customer of a 台区群's district into the group.

    Set-based: one query finds the contacts not yet in the group, one INSERT
    per 1,000 adds them (ON CONFLICT DO NOTHING, so a concurrent add is not an
    error). Contacts who left the group before are not brought back (they
    chose to leave; add them one by one if they ask). Deleted archives are
    skipped. Returns how many joined; running it again adds nobody.
    """
    current = lock_group(group)
    require_manager(by, current)
    require_active(current)
    if current.kind != GroupKind.DISTRICT or not current.district_id:
        raise ValidationError(_("只有台区群可以一键加入台区客户。"))
    ever_member = Membership.objects.filter(group=current, contact=OuterRef("pk"))
    contact_ids = list(
        Contact.objects.filter(customer__district_id=current.district_id, customer__deleted_at__isnull=True)
        .exclude(Exists(ever_member))
        .order_by("id")
        .values_list("id", flat=True)
    )
    now = timezone.now()
    Membership.objects.bulk_create(
        [Membership(group_id=current.pk, contact_id=contact_id, joined_at=now) for contact_id in contact_ids],
        batch_size=INSERT_BATCH,
        ignore_conflicts=True,
    )
    return len(contact_ids)
