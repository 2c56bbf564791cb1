"""Importing an archive file, against a plain bulk_create of the same rows.

    python bench/archive_import.py [--rows 100000] [--format xlsx|csv]

Writes a file of N new customers (every template column filled, one contact
each), then measures in the same run, as a county supervisor:
- the import as the Celery tasks run it (customers.imports): the check of
  every row (`validate_job`) and the batched write (`write_job`: validation
  again, bulk_create with history rows, contacts, completeness): rows/s;
- a plain `bulk_create` of the same customers and contacts (no checks, no
  history) from already-parsed rows: rows/s, and the import's share of it;
- a second import of the same file (every row unchanged): rows/s.
The 5 MB upload limit is not applied here: the file is handed to the job directly.
`write_sql_statements` counts what goes through Django's cursor: the import's
COPY statements (new archives, contacts, history rows; two to four per batch)
are not among them.
"""

import argparse
import csv
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import counted_queries, grid, record, setup_django, timed  # noqa: E402

BATCH = 1000


def rows_for(count: int, stations, districts, managers) -> list[list[str]]:
    rows = []
    for i in range(count):
        district = districts[i % 100]
        station = stations[i % 10]
        rows.append(
            [
                f"{6000000000 + i}",
                f"导入客户{i}",
                "居民",
                "城市",
                "220V",
                f"某县某镇某路{i}号",
                station.code,
                district.code,
                f"BXL{i % 10}",
                managers[(i % 10) + 10 * ((i // 10) % 5)].username,
                "非VIP",
                "否",
                "否",
                "否",
                "否",
                "否",
                "户主",
                f"139{i:08d}",
                "",
            ]
        )
    return rows


def write_file(rows: list[list[str]], file_format: str) -> bytes:
    from customers.imports import HEADERS

    if file_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(HEADERS)
        writer.writerows(rows)
        return buffer.getvalue().encode("utf-8-sig")
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(list(HEADERS))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE customers_contact, customers_historicalcontact, customers_customer, "
            "customers_historicalcustomer, customers_importjob RESTART IDENTITY CASCADE"
        )


def plain_bulk_create(rows: list[list[str]], stations, districts, managers) -> float:
    """The same customers and contacts with bulk_create alone (values already resolved)."""
    from customers.models import Contact, Customer

    station_by_code = {station.code: station for station in stations}
    district_by_code = {district.code: district for district in districts}
    manager_by_name = {manager.username: manager for manager in managers}
    with timed() as t:
        for start in range(0, len(rows), BATCH):
            customers = []
            for row in rows[start : start + BATCH]:
                district = district_by_code[row[7]]
                customers.append(
                    Customer(
                        number=row[0],
                        name=row[1],
                        kind=Customer.Kind.RESIDENT,
                        segment=Customer.Segment.URBAN,
                        voltage=row[4],
                        address=row[5],
                        station=station_by_code[row[6]],
                        district=district,
                        line_id=district.line_id,
                        manager=manager_by_name[row[9]],
                        completeness=100,
                    )
                )
            Customer.objects.bulk_create(customers)
            Contact.objects.bulk_create(
                Contact(customer=customer, name=row[16], mobile=row[17], is_primary=True)
                for customer, row in zip(customers, rows[start : start + BATCH], strict=True)
            )
    return t.seconds


def run_import(content: bytes, file_format: str, user) -> tuple[float, float, int, object]:
    from customers import imports
    from customers.models import ImportJob

    job = ImportJob.objects.create(
        created_by=user, file_name=f"bench.{file_format}", file_format=file_format, content=content
    )
    with timed() as validation:
        imports.validate_job(job.pk)
    job.refresh_from_db()
    imports.import_job_confirm(job=job)
    with counted_queries() as queries, timed() as writing:
        imports.write_job(job.pk)
    job.refresh_from_db()
    return validation.seconds, writing.seconds, queries.count, job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", choices=["xlsx", "csv"], default="xlsx")
    args = parser.parse_args()
    setup_django()

    from customers.models import Customer

    truncate()
    supervisor, stations, districts, managers = grid()
    rows = rows_for(args.rows, stations, districts, managers)
    with timed() as writing_file:
        content = write_file(rows, args.format)

    baseline_seconds = plain_bulk_create(rows, stations, districts, managers)
    truncate()
    supervisor, stations, districts, managers = grid()

    validate_seconds, write_seconds, write_queries, job = run_import(content, args.format, supervisor)
    assert job.status == "done", (job.status, job.failure)
    written = Customer.objects.count()
    history = Customer.history.count()
    again_validate, again_write, _queries, again = run_import(content, args.format, supervisor)

    import_seconds = validate_seconds + write_seconds
    import_rate = args.rows / import_seconds
    baseline_rate = args.rows / baseline_seconds
    record(
        "archive_import",
        {
            "rows": args.rows,
            "format": args.format,
            "file_megabytes": round(len(content) / 1e6, 2),
            "file_writing_seconds": round(writing_file.seconds, 2),
            "validate_seconds": round(validate_seconds, 2),
            "write_seconds": round(write_seconds, 2),
            "write_sql_statements": write_queries,
            "created": job.created_count,
            "rejected": job.rejected_count,
            "customers_written": written,
            "history_rows_written": history,
            "import_rows_per_second": round(import_rate),
            "bulk_create_rows_per_second": round(baseline_rate),
            "import_vs_bulk_create_ratio": round(import_rate / baseline_rate, 3),
            "reimport_unchanged": again.unchanged_count,
            "reimport_rows_per_second": round(args.rows / (again_validate + again_write)),
        },
        scale={"rows": args.rows, "format": args.format},
    )


if __name__ == "__main__":
    main()
