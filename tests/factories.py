"""Test data factories. Personas live in tests/conftest.py."""

import factory
from django.utils import timezone

from accounts.models import OrgUnit, User
from customers.models import Contact, Customer, District, Line
from notifications.models import Notification


class OrgUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrgUnit
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"U{n:04d}")
    name = factory.Sequence(lambda n: f"测试供电所{n}")
    level = OrgUnit.Level.STATION


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    real_name = factory.Sequence(lambda n: f"经理{n}")
    mobile = factory.Sequence(lambda n: f"1359556{n:04d}")
    role = User.Role.ACCOUNT_MANAGER
    org_unit = factory.SubFactory(OrgUnitFactory)
    password = factory.PostGenerationMethodCall("set_password", "pass12345")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class LineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Line

    code = factory.Sequence(lambda n: f"XL{n:05d}")
    name = factory.Sequence(lambda n: f"10kV测试{n}线")
    station = factory.SubFactory(OrgUnitFactory)


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District

    code = factory.Sequence(lambda n: f"TQ{n:06d}")
    name = factory.Sequence(lambda n: f"测试{n}号台区")
    station = factory.SubFactory(OrgUnitFactory)
    line = factory.LazyAttribute(lambda o: LineFactory(station=o.station))


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    number = factory.Sequence(lambda n: f"{5000000000 + n}")
    name = factory.Sequence(lambda n: f"客户{n}")
    kind = Customer.Kind.RESIDENT
    segment = Customer.Segment.URBAN
    voltage = Customer.Voltage.V220
    address = factory.Sequence(lambda n: f"贵州省雷山县丹江镇永乐路{n}号")
    station = factory.SubFactory(OrgUnitFactory)
    verified_at = factory.LazyFunction(timezone.now)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"联系人{n}")
    # Eleven digits however long the session's sequence runs.
    mobile = factory.Sequence(lambda n: f"1388888{n:04d}" if n < 10_000 else f"1389{n % 10_000_000:07d}")
    is_primary = True


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    recipient = factory.SubFactory(UserFactory)
    channel = Notification.Channel.IN_APP
    subject = factory.Sequence(lambda n: f"提醒{n}")
    body = "请及时处理。"
    dedupe_key = factory.Sequence(lambda n: f"test:{n}")


def copied_orders(*, customer, owner, count: int, vary=None, tag: str = ""):
    """One repair order made by the real service for `customer` (its number, SLA clock and
    history), then `count` copies of it changed by `vary(copy, i)` and bulk-created: volume for
    plan and paging tests without `count` service calls. Returns the service-made order."""
    from tickets import services
    from tickets.models import Kind, Ticket

    template, _created = services.ticket_create(
        customer=customer,
        opened_by=owner,
        assignee=owner,
        kind=Kind.REPAIR,
        title="家中停电",
        description="客户反映家中无电。",
    )
    copies = []
    for i in range(count):
        copy = Ticket.objects.get(pk=template.pk)
        copy.pk = None
        copy.number = f"{template.number}{tag}{i:03d}"
        if vary is not None:
            vary(copy, i)
        copies.append(copy)
    Ticket.objects.bulk_create(copies)
    return template
