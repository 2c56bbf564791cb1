"""Who reads a customer's phone numbers in full, and the record of such reads (ARCHITECTURE rule 11).

Masking itself is core.phones.mask_phone. Who sees what:
- the customer's own account manager: in full, everywhere;
- an integration account (User.Role.INTEGRATION: 95598, marketing, the mobile
  back end): in full in API responses (detail, list, writes' responses, the
  sync feed) for every archive of its unit's subtree (the scope is
  `visible_to`; others answer 404). Every such response is recorded in
  PhoneAccessLog, one row per response with the archive numbers it showed;
- everybody else (colleagues, supervisors, administrators in the API):
  masked, 135****1234.

The rule is `sees_full_phones`; the API's serializers and the sync feed ask it.
"""

from collections.abc import Iterable

from accounts.models import User
from customers.models import Customer, PhoneAccessLog


def sees_full_phones(user: User, *, manager_id: int | None) -> bool:
    """Whether the user reads the phones of an archive they can see (managed by `manager_id`) in full."""
    if user is None or not user.is_authenticated:
        return False
    return reads_every_phone(user) or (manager_id is not None and manager_id == user.pk)


def reads_every_phone(user: User) -> bool:
    """Integration accounts read every phone of the archives they see in full (and each read is recorded)."""
    return bool(user is not None and user.is_authenticated and user.is_integration)


def phone_reads_record(
    *,
    user: User,
    endpoint: str,
    numbers: Iterable[str] = (),
    customer_ids: Iterable[int] = (),
) -> PhoneAccessLog | None:
    """Record that `user` was shown the phones of these archives in full (one row, set-based).

    Only integration accounts' reads are recorded: an owner reading their own
    customers is the normal case, and everybody else reads masked numbers.
    Archives named by id are looked up (live ones; a tombstone shows no phone).
    """
    if not reads_every_phone(user):
        return None
    shown = set(numbers)
    ids = list(customer_ids)
    if ids:
        shown.update(Customer.objects.filter(pk__in=ids).values_list("number", flat=True))
    if not shown:
        return None
    return PhoneAccessLog.objects.create(
        user=user, endpoint=endpoint[:255], numbers=sorted(shown), count=len(shown)
    )
