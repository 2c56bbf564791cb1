"""A manager exports a list too long to write while the browser waits: the export's page shows
the progress, refreshes itself once a worker has written the file, and the download holds the list."""

from openpyxl import load_workbook
from playwright.sync_api import expect

from customers import exports, tasks
from customers.models import ExportJob
from tests.factories import ContactFactory, CustomerFactory


def test_a_manager_waits_on_the_export_page_and_downloads_the_file(
    transactional_db, live_server, page, log_in, artifacts, org_tree, manager, settings, tmp_path, monkeypatch
):
    settings.CUSTOMER_EXPORT_INLINE_ROWS = 2
    settings.MEDIA_ROOT = str(tmp_path)
    # No broker here: the test plays the worker once the page is up.
    monkeypatch.setattr(tasks.write_export, "delay", lambda job_id: None)
    for index in range(3):
        customer = CustomerFactory(name=f"雷山客户{index}", station=org_tree["station"], manager=manager)
        ContactFactory(customer=customer, mobile=f"1388555000{index}", is_primary=True)

    log_in(page, manager)
    page.goto(f"{live_server.url}/customers/")
    with page.expect_navigation():
        page.get_by_role("link", name="导出Excel").click()
    job = ExportJob.objects.get()
    assert page.url.endswith(f"/customers/exports/{job.pk}/"), page.url
    expect(page.locator("#export-progress")).to_contain_text("排队中")

    exports.write_export_job(job.pk)

    download_link = page.get_by_role("link", name="下载 Excel 文件")
    expect(download_link).to_be_visible(timeout=10_000)
    expect(page.locator("#export-progress")).to_contain_text("共 3 户")
    for width, height in ((1366, 768), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(artifacts / f"export-job-{width}x{height}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {width}px"

    with page.expect_download() as download_info:
        download_link.click()
    assert download_info.value.suggested_filename.startswith("客户档案-")
    path = tmp_path / "export.xlsx"
    download_info.value.save_as(str(path))
    names = [row[1] for row in load_workbook(path).active.iter_rows(min_row=2, values_only=True)]
    assert sorted(names) == ["雷山客户0", "雷山客户1", "雷山客户2"]
