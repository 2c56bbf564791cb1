"""Importing archives from .xlsx/.csv: upload, preview of bad rows, confirm, summary.

The Celery task bodies are called directly (customers.imports.validate_job / write_job).
"""

import io

import pytest
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from customers import imports
from customers.models import Contact, Customer, ImportJob

UPLOAD = "/customers/imports/new/"


def _row(**cells) -> list[str]:
    values = dict(zip(imports.HEADERS, [""] * len(imports.HEADERS), strict=True))
    defaults = {
        "户号": "5201100001",
        "客户名称": "雷山县新客户",
        "供电所编码": "LS01",
    }
    values.update(defaults)
    values.update(cells)
    return [values[header] for header in imports.HEADERS]


def xlsx(rows: list[list], headers=imports.HEADERS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(headers))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[list], encoding="utf-8-sig", headers=imports.HEADERS) -> bytes:
    lines = [",".join(headers), *(",".join(row) for row in rows)]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def upload(client, content: bytes, name: str = "档案.xlsx"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, content)})


def run_validation(job_id: int) -> ImportJob:
    imports.validate_job(job_id)
    return ImportJob.objects.get(pk=job_id)


def run_write(job_id: int) -> ImportJob:
    imports.write_job(job_id)
    return ImportJob.objects.get(pk=job_id)


def _only_job() -> ImportJob:
    return ImportJob.objects.get()


GOOD_ROWS = [
    _row(
        户号="5201100001",
        客户名称="永乐小学",
        用电类别="一般工商业",
        城乡="农村",
        电压等级="10kV",
        用电地址="雷山县永乐镇1号",
        台区编码="TQ-LS-1",
        **{"客户经理(用户名)": "zhangsan"},
        VIP等级="VIP",
        重要客户="是",
        联系人="王校长",
        手机号码="13885550001",
    ),
    _row(户号="5201100002", 客户名称="李家", 联系人="李大爷", 固定电话="0855-3331234"),
]


def test_a_good_file_is_previewed_then_written_with_history_and_completeness(login, manager, grid):
    client = login(manager)
    response = upload(client, xlsx(GOOD_ROWS))
    job = _only_job()
    assert response.status_code == 302
    assert response["Location"] == f"/customers/imports/{job.pk}/"
    assert job.status == ImportJob.Status.PENDING

    job = run_validation(job.pk)
    assert job.status == ImportJob.Status.VALIDATED
    assert (job.total, job.created_count, job.updated_count, job.rejected_count) == (2, 2, 0, 0)
    assert Customer.objects.count() == 0
    page = client.get(f"/customers/imports/{job.pk}/")
    assert "确认导入" in page.content.decode()

    client.post(f"/customers/imports/{job.pk}/confirm/")
    job = run_write(job.pk)
    assert job.status == ImportJob.Status.DONE
    assert (job.created_count, job.updated_count, job.unchanged_count, job.rejected_count) == (2, 0, 0, 0)
    school = Customer.objects.get(number="5201100001")
    assert school.kind == Customer.Kind.COMMERCIAL
    assert school.segment == Customer.Segment.RURAL
    assert school.district == grid["district"]
    assert school.line == grid["line"]  # taken from the district
    assert school.manager == manager
    assert school.vip_tier == Customer.VipTier.VIP
    assert school.is_important
    assert school.completeness == 100
    contact = school.contacts.get()
    assert (contact.name, contact.mobile, contact.is_primary) == ("王校长", "13885550001", True)
    assert school.history.get().history_user == manager
    assert contact.history.get().history_user == manager
    family = Customer.objects.get(number="5201100002")
    assert family.contacts.get().landline == "0855-3331234"
    assert 0 < family.completeness < 100


def test_a_gb18030_csv_updates_known_archives_and_counts_unchanged_ones(manager, mine, colleagues):
    rows = [
        _row(户号=mine.number, 客户名称="雷山县永乐大酒店"),
        _row(户号=colleagues.number, 客户名称=colleagues.name),
    ]
    job = imports.import_job_create(user=manager, file_name="a.csv", content=csv_bytes(rows, "gb18030"))
    job = run_validation(job.pk)
    assert (job.created_count, job.updated_count, job.unchanged_count, job.rejected_count) == (0, 1, 1, 0)
    imports.import_job_confirm(job=job)
    run_write(job.pk)
    mine.refresh_from_db()
    assert mine.name == "雷山县永乐大酒店"
    # Blank cells keep what is stored.
    assert mine.address == "雷山县丹江镇永乐路18号"
    assert mine.is_important
    assert mine.completeness == 100
    assert mine.history.first().history_user == manager
    assert mine.history.count() == 2


def test_bad_rows_are_listed_and_only_good_rows_are_written(login, manager, grid):
    rows = [
        GOOD_ROWS[0],
        _row(户号="12345", 客户名称="短户号"),
        _row(户号="5201100003", 客户名称="", 手机号码="1388"),
        _row(户号="5201100004", 客户名称="错台区", 台区编码="TQ-NONE"),
        _row(户号="5201100005", 客户名称="别所台区", 台区编码="TQ-DJ-1"),
        _row(户号="5201100001", 客户名称="重复"),
        _row(户号="5201100006", 客户名称="类别错", 用电类别="火星"),
    ]
    client = login(manager)
    upload(client, xlsx(rows))
    job = run_validation(_only_job().pk)
    assert job.status == ImportJob.Status.VALIDATED
    assert (job.created_count, job.rejected_count) == (1, 6)
    by_line = {}
    for line, column, message in job.errors:
        by_line.setdefault(line, []).append((column, message))
    assert by_line[3] == [("户号", "户号必须是10到13位数字。")]
    assert ("客户名称", "请填写客户名称。") in by_line[4]
    assert any(column == "手机号码" for column, _message in by_line[4])
    assert by_line[5] == [("台区编码", "台区编码“TQ-NONE”不存在。")]
    assert by_line[6][0][0] == "台区编码" and "不属于雷山供电所" in by_line[6][0][1]
    assert by_line[7] == [("户号", "户号与第2行重复，同一户号只能出现一次。")]
    assert by_line[8][0][0] == "用电类别"

    page = client.get(f"/customers/imports/{job.pk}/").content.decode()
    assert "户号必须是10到13位数字。" in page
    assert "台区编码“TQ-NONE”不存在。" in page

    client.post(f"/customers/imports/{job.pk}/confirm/")
    job = run_write(job.pk)
    assert list(Customer.objects.values_list("number", flat=True)) == ["5201100001"]
    assert (job.created_count, job.rejected_count) == (1, 6)


def test_confirming_twice_writes_once(login, manager, grid):
    client = login(manager)
    upload(client, xlsx(GOOD_ROWS))
    job = run_validation(_only_job().pk)
    client.post(f"/customers/imports/{job.pk}/confirm/")
    second = client.post(f"/customers/imports/{job.pk}/confirm/", follow=True)
    assert "不会重复导入" in second.content.decode()
    run_write(job.pk)
    run_write(job.pk)
    assert imports.import_job_confirm(job=job) is False
    assert Customer.objects.count() == 2
    assert Contact.objects.count() == 2
    assert Customer.history.count() == 2
    run_validation(job.pk)
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.DONE


def test_a_file_that_is_not_a_spreadsheet_is_refused_and_nothing_is_stored(login, manager, grid):
    client = login(manager)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 10
    response = upload(client, png, name="档案.xlsx")
    assert response.status_code == 200
    assert "文件不是电子表格" in response.content.decode()
    response = upload(client, b"PK\x03\x04 not really a zip", name="档案.xlsx")
    assert "文件不是Excel表格" in response.content.decode()
    assert ImportJob.objects.count() == 0
    # The same request with a real spreadsheet goes through.
    assert upload(client, xlsx(GOOD_ROWS)).status_code == 302


def test_wrong_or_missing_headers_are_refused(login, manager, grid):
    client = login(manager)
    headers = [*imports.HEADERS[:-1], "备注"]
    response = upload(client, xlsx([], headers=headers))
    body = response.content.decode()
    assert "表头与导入模板不符" in body
    assert "缺少列：固定电话" in body
    assert "无法识别的列：备注" in body
    response = upload(client, csv_bytes([], headers=imports.HEADERS[:3]), name="a.csv")
    assert "缺少列" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_a_file_over_the_limit_is_refused(settings, login, manager, grid):
    settings.CUSTOMER_IMPORT_MAX_MB = 5
    client = login(manager)
    big = csv_bytes([GOOD_ROWS[1]]) + b"#" * (5 * 1024 * 1024 + 1)
    response = upload(client, big, name="big.csv")
    assert "文件超过 5 MB" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_the_default_limit_takes_a_prefectures_100k_row_file(settings):
    # About 8 MB as .xlsx (bench/archive_import.py builds one).
    assert imports.max_file_size() >= 9 * 1024 * 1024
    imports.check_size(8 * 1024 * 1024)


def test_an_outsiders_file_naming_our_station_and_grid_is_rejected(outsider, manager, grid, mine):
    rows = [
        _row(户号="5209100001", 客户名称="越界新户"),
        _row(户号="5209100002", 客户名称="越界台区", 供电所编码="KL01", 台区编码="TQ-LS-1"),
        _row(户号=mine.number, 客户名称="改名", 供电所编码="KL01"),
    ]
    job = imports.import_job_create(user=outsider, file_name="x.xlsx", content=xlsx(rows))
    job = run_validation(job.pk)
    assert job.created_count == job.updated_count == 0
    assert job.rejected_count == 3
    messages = {line: message for line, _column, message in job.errors}
    assert messages[2] == "您无权在雷山供电所建立客户档案。"
    assert "不属于凯里供电所" in messages[3]
    assert messages[4] == "该户号不可用。"
    imports.import_job_confirm(job=job)
    run_write(job.pk)
    mine.refresh_from_db()
    assert mine.name == "雷山县永乐酒店"
    assert not Customer.objects.filter(number__startswith="52091").exists()


def test_jobs_of_other_users_answer_404(login, manager, colleague, grid):
    job = imports.import_job_create(user=manager, file_name="a.xlsx", content=xlsx(GOOD_ROWS))
    client = login(colleague)
    assert client.get(f"/customers/imports/{job.pk}/").status_code == 404
    assert client.post(f"/customers/imports/{job.pk}/confirm/").status_code == 404
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.PENDING


def test_the_progress_partial_polls_while_running_and_refreshes_when_done(login, manager, grid):
    job = imports.import_job_create(user=manager, file_name="a.xlsx", content=xlsx(GOOD_ROWS))
    client = login(manager)
    partial = client.get(f"/customers/imports/{job.pk}/", headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in partial.content.decode()
    run_validation(job.pk)
    partial = client.get(f"/customers/imports/{job.pk}/", headers={"HX-Request": "true"})
    assert partial["HX-Refresh"] == "true"


def test_the_template_has_the_headers_and_an_example_row(login, manager):
    response = login(manager).get("/customers/imports/template.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    rows = [[value or "" for value in row] for row in sheet.iter_rows(values_only=True)]
    assert tuple(rows[0]) == imports.HEADERS
    assert tuple(rows[1]) == imports.EXAMPLE_ROW


def test_the_list_page_links_to_the_import(login, manager):
    assert "/customers/imports/new/" in login(manager).get("/customers/").content.decode()


@pytest.mark.parametrize("text", ["是", "Y", "1", "√"])
def test_flags_read_yes_in_several_spellings(manager, grid, text):
    job = imports.import_job_create(
        user=manager, file_name="a.xlsx", content=xlsx([_row(户号="5201100009", 敏感客户=text)])
    )
    run_validation(job.pk)
    imports.import_job_confirm(job=job)
    run_write(job.pk)
    assert Customer.objects.get(number="5201100009").is_sensitive


def test_a_deleted_archive_is_named_only_to_its_own_stations(outsider, manager, grid, mine):
    mine.deleted_at = timezone.now()
    mine.save(update_fields=["deleted_at"])
    row = [_row(户号=mine.number, 客户名称="重建", 供电所编码="KL01")]

    theirs = run_validation(
        imports.import_job_create(user=outsider, file_name="x.xlsx", content=xlsx(row)).pk
    )
    ours = run_validation(
        imports.import_job_create(user=manager, file_name="x.xlsx", content=xlsx([_row(户号=mine.number)])).pk
    )

    assert [message for _line, _column, message in theirs.errors] == ["该户号不可用。"]
    assert [message for _line, _column, message in ours.errors] == [
        "该户号属于一份已删除的客户档案，请联系系统管理员恢复。"
    ]
