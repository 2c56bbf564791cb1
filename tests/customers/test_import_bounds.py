"""Imports bounded by work: a row limit counted by streaming, a file read to its last row
whatever its `<dimension>` says, and the text rule on every cell."""

import io
import re
import zipfile

import pytest

from customers import imports
from customers.models import Customer, ImportJob
from tests.customers.test_import import _only_job, _row, run_validation, run_write, upload, xlsx

ROWS = [_row(户号=f"52011000{n:02d}", 客户名称=f"客户{n}") for n in range(1, 7)]


def with_dimension(content: bytes, ref: str | None) -> bytes:
    """The same workbook with the first sheet's `<dimension>` set to `ref` (None: removed)."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                assert "<dimension " in text
                replacement = "" if ref is None else f'<dimension ref="{ref}"/>'
                text = re.sub(r"<dimension [^>]*/>", replacement, text)
                data = text.encode()
            target.writestr(item, data)
    return out.getvalue()


@pytest.mark.parametrize("ref", ["A1:Q2", None], ids=["dimension-says-2-rows", "no-dimension"])
def test_every_row_the_file_holds_is_imported_whatever_its_dimension_says(login, manager, grid, ref):
    client = login(manager)
    content = with_dimension(xlsx(ROWS), ref)

    assert upload(client, content).status_code == 302
    job = run_validation(_only_job().pk)
    assert (job.status, job.total, job.created_count) == (ImportJob.Status.VALIDATED, 6, 6)
    client.post(f"/customers/imports/{job.pk}/confirm/")
    job = run_write(job.pk)

    assert job.status == ImportJob.Status.DONE
    assert Customer.objects.filter(number__startswith="52011000").count() == 6


def test_a_file_over_the_row_limit_is_refused_at_upload_in_chinese(settings, login, manager, grid):
    settings.IMPORT_MAX_ROWS = 5
    client = login(manager)

    response = upload(client, xlsx(ROWS))

    assert response.status_code == 200
    assert "文件超过 5 行数据，请拆分后分批导入。" in response.content.decode()
    assert ImportJob.objects.count() == 0
    # At the limit the file is taken.
    settings.IMPORT_MAX_ROWS = 6
    assert upload(client, xlsx(ROWS)).status_code == 302


def test_the_upload_stops_counting_one_row_past_the_limit(settings, login, manager, grid, monkeypatch):
    settings.IMPORT_MAX_ROWS = 3
    counted, converted = [], []
    rows_with_values, cell_text = imports._xlsx_rows_with_values, imports._cell_text

    def counting(content):
        for row in rows_with_values(content):
            counted.append(row)
            yield row

    def converting(value):
        converted.append(value)
        return cell_text(value)

    monkeypatch.setattr(imports, "_xlsx_rows_with_values", counting)
    monkeypatch.setattr(imports, "_cell_text", converting)
    content = xlsx([_row(户号=f"5201200{n:03d}") for n in range(200)])

    response = upload(login(manager), content)

    assert "文件超过 3 行数据" in response.content.decode()
    # The header row and four data rows, not two hundred; and no cell converted past the
    # header row and the first data row (read for the header check).
    assert len(counted) == 5
    assert len(converted) <= 2 * len(imports.HEADERS)


def test_a_csv_over_the_row_limit_is_refused_too(settings, login, manager, grid):
    from tests.customers.test_import import csv_bytes

    settings.IMPORT_MAX_ROWS = 2
    response = upload(login(manager), csv_bytes(ROWS[:3]), name="a.csv")

    assert "文件超过 2 行数据" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_the_worker_checks_the_limit_before_validating(settings, login, manager, grid, monkeypatch):
    upload(login(manager), xlsx(ROWS))
    settings.IMPORT_MAX_ROWS = 4
    looked_up = []
    monkeypatch.setattr(imports, "_Lookups", lambda *args: looked_up.append(args))

    job = run_validation(_only_job().pk)

    assert job.status == ImportJob.Status.FAILED
    assert "文件超过 4 行数据" in job.failure
    assert looked_up == [], "no row was looked up"
    page = login(manager).get(f"/customers/imports/{job.pk}/").content.decode()
    assert "文件超过 4 行数据" in page


def test_a_cell_with_a_line_break_or_tab_is_a_bad_row_and_is_not_written(login, manager, grid):
    # XML cannot carry C0 controls (the file is refused as damaged) and a CSV holding them is
    # not taken as text; line breaks and tabs can be in a cell, and a customer's name or
    # address is one line everywhere (core.text).
    client = login(manager)
    rows = [_row(户号="5201100001", 客户名称="永乐\n小学"), _row(户号="5201100002", 用电地址="永乐镇\t1号")]

    upload(client, xlsx(rows))
    job = run_validation(_only_job().pk)

    assert (job.total, job.rejected_count, job.created_count) == (2, 2, 0)
    assert {(line, header) for line, header, _message in job.errors} == {(2, "客户名称"), (3, "用电地址")}
    assert all("不能包含换行" in message for _line, _header, message in job.errors)
    client.post(f"/customers/imports/{job.pk}/confirm/")
    run_write(job.pk)
    assert not Customer.objects.filter(number__in=["5201100001", "5201100002"]).exists()


def test_the_sheet_is_never_sized_from_or_for_its_dimension(login, manager, grid, monkeypatch):
    # openpyxl sizes a read-only sheet by parsing up to `<dimension>`: the whole sheet when
    # the element is missing (22.9 s for 700,000 rows in the upload request).
    from openpyxl.worksheet import _reader

    def refuse(self):
        raise AssertionError("the sheet's dimension was looked for")

    monkeypatch.setattr(_reader.WorkSheetParser, "parse_dimensions", refuse)

    assert upload(login(manager), with_dimension(xlsx(ROWS), None)).status_code == 302
    assert run_validation(_only_job().pk).total == 6
