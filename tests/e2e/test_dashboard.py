"""A supervisor reads the dashboard, follows the overdue figure and exports the workbook."""

from django.core.cache import cache
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.workspace.test_dashboard import build_scenario
from tickets.defaults import seed_default_policies
from tickets.models import SlaPolicy


def test_a_supervisor_follows_the_overdue_figure_and_exports(
    transactional_db, live_server, page, log_in, artifacts, org_tree, manager, supervisor, outsider
):
    seed_default_policies(SlaPolicy)
    cache.clear()
    orders = build_scenario(timezone.now(), org_tree, manager, supervisor, outsider)

    log_in(page, supervisor)
    page.goto(f"{live_server.url}/")
    assert page.url.endswith("/dashboard/"), page.url
    figure = page.locator("#fig-overdue")
    expect(figure.locator(".value")).to_contain_text("2")
    expect(page.locator("#chart-per-day")).to_be_visible()

    page.set_viewport_size({"width": 1366, "height": 768})
    page.screenshot(path=str(artifacts / "dashboard-1366x768.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts / "dashboard-390x844.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 768})

    with page.expect_download() as download_info:
        page.locator("#dash-export").click()
    path = artifacts / "dashboard-export.xlsx"
    download_info.value.save_as(str(path))
    book = load_workbook(path)
    figures = {row[0]: row[1] for row in book["指标"].iter_rows(values_only=True) if row and row[0]}
    assert figures["已超时"] == 2
    path.unlink()

    with page.expect_navigation():
        figure.click()
    assert page.url.endswith("/tickets/?deadline=overdue"), page.url
    rows = page.locator("tr.ticket-row")
    expect(rows).to_have_count(2)
    expect(page.locator(".ticket-total")).to_have_text("共 2 张")
    page.screenshot(path=str(artifacts / "dashboard-overdue-list.png"))
    shown = {rows.nth(i).get_attribute("data-ticket") for i in range(2)}
    assert shown == {orders["a"].number, orders["e"].number}
