import re

from tests.factories import ContactFactory, CustomerFactory


def test_a_manager_finds_a_customer_by_a_contacts_mobile(
    transactional_db, live_server, page, log_in, artifacts, org_tree, manager
):
    tea_company = CustomerFactory(
        name="雷山县银球茶叶有限公司", station=org_tree["station"], manager=manager, kind="commercial"
    )
    ContactFactory(customer=tea_company, name="杨光明", mobile="13985551234")
    neighbour = CustomerFactory(name="吴秀英", station=org_tree["station"], manager=manager)
    ContactFactory(customer=neighbour, name="吴秀英", mobile="15885556789")

    log_in(page, manager)
    search = page.locator("nav form[role=search] input[name=q]")
    search.fill("13985551234")
    with page.expect_navigation():
        search.press("Enter")
    assert re.search(r"/customers/\?(.+&)?q=13985551234", page.url), page.url
    page.screenshot(path=str(artifacts / "customer_search.png"), full_page=True)

    results = page.locator("main")
    assert "雷山县银球茶叶有限公司" in results.inner_text()
    assert "吴秀英" not in results.inner_text()
