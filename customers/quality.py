"""Archive quality: which key fields of a customer archive are still missing.

The rule lives here once. `customers.services` stores the score in
`Customer.completeness` so that lists filter on it in SQL; the 360 page shows
the missing labels from the same function.
"""

from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _

from customers.models import Contact, Customer

# Each key field of the archive, with the label shown when it is missing.
ARCHIVE_CHECKS = (
    ("address", _("用电地址")),
    ("district", _("台区")),
    ("line", _("线路")),
    ("manager", _("客户经理")),
    ("voltage", _("电压等级")),
    ("contact_phone", _("联系人电话")),
    ("primary_contact", _("主联系人")),
)


def _filled(customer: Customer, contacts: Iterable[Contact]) -> dict[str, bool]:
    contacts = list(contacts)
    return {
        "address": bool(customer.address.strip()),
        "district": customer.district_id is not None,
        "line": customer.line_id is not None,
        "manager": customer.manager_id is not None,
        "voltage": bool(customer.voltage),
        "contact_phone": any(contact.phone and not contact.phone_flagged_at for contact in contacts),
        "primary_contact": any(contact.is_primary for contact in contacts),
    }


def archive_gaps(customer: Customer, contacts: Iterable[Contact]) -> list[str]:
    """Labels of the key archive fields that are not filled in, in a fixed order.

    Key fields: address, district, line, account manager, voltage level, at
    least one contact with a phone number (a number a phone call found wrong,
    `Contact.phone_flagged_at`, does not count until it is corrected), and a
    primary contact.
    """
    filled = _filled(customer, contacts)
    return [str(label) for key, label in ARCHIVE_CHECKS if not filled[key]]


def completeness_score(customer: Customer, contacts: Iterable[Contact]) -> int:
    """Share of the key archive fields filled in, 0–100."""
    # Counted without the labels: an import scores every row it reads.
    missing = sum(1 for filled in _filled(customer, contacts).values() if not filled)
    total = len(ARCHIVE_CHECKS)
    return round(100 * (total - missing) / total)
