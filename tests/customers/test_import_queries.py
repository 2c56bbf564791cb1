"""An import's checks and writes cost a fixed number of queries per batch, not per row."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers import imports
from customers.models import Customer
from tests.customers.test_import import _row, xlsx


def rows(count: int, start: int, manager, grid) -> list[list[str]]:
    return [
        _row(
            户号=f"52013{start + i:05d}",
            客户名称=f"导入客户{i}",
            台区编码=grid["district"].code if i % 2 else "",
            **{"客户经理(用户名)": manager.username},
            联系人=f"联系人{i}",
            手机号码=f"139{start + i:08d}",
        )
        for i in range(count)
    ]


def import_counting(user, content: bytes) -> tuple[int, int]:
    job = imports.import_job_create(user=user, file_name="n.xlsx", content=content)
    with CaptureQueriesContext(connection) as validation:
        imports.validate_job(job.pk)
    job.refresh_from_db()
    imports.import_job_confirm(job=job)
    with CaptureQueriesContext(connection) as writing:
        imports.write_job(job.pk)
    job.refresh_from_db()
    assert job.status == "done", job.failure
    return len(validation), len(writing)


def test_fifty_and_five_hundred_new_rows_cost_the_same_queries(manager, grid):
    small = import_counting(manager, xlsx(rows(50, 0, manager, grid)))
    large = import_counting(manager, xlsx(rows(500, 1000, manager, grid)))
    assert Customer.objects.count() == 550
    assert small == large


def test_updating_fifty_or_five_hundred_archives_costs_the_same_queries(manager, grid):
    import_counting(manager, xlsx(rows(50, 0, manager, grid)))
    import_counting(manager, xlsx(rows(500, 1000, manager, grid)))
    renamed = [
        [*row[:1], row[1] + "改", *row[2:-2], row[-2][:-1] + "0", row[-1]]
        for row in rows(50, 0, manager, grid)
    ]
    renamed_many = [
        [*row[:1], row[1] + "改", *row[2:-2], row[-2][:-1] + "0", row[-1]]
        for row in rows(500, 1000, manager, grid)
    ]
    assert import_counting(manager, xlsx(renamed)) == import_counting(manager, xlsx(renamed_many))
    assert Customer.objects.filter(name__endswith="改").count() == 550


def test_a_number_taken_between_check_and_write_fails_the_job_and_writes_nothing_of_its_batch(
    manager, grid, make_customer
):
    from django.db import IntegrityError

    content = xlsx(rows(20, 0, manager, grid))
    job = imports.import_job_create(user=manager, file_name="n.xlsx", content=content)
    imports.validate_job(job.pk)
    job.refresh_from_db()
    imports.import_job_confirm(job=job)
    plan = imports.plan_import(content=content, file_format="xlsx", user=manager)
    # Another writer opens one of the numbers after the check.
    make_customer(by=manager, number=plan.rows[7].customer.number)
    try:
        imports.write_batch(plan.rows, user=manager)
    except IntegrityError:
        pass
    else:
        raise AssertionError("the batch was written over a taken number")
    assert Customer.objects.count() == 1
    assert Customer.history.count() == 1
