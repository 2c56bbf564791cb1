"""The header holds in English at desktop (1366×768) and phone (390×844) width.

English labels are longer than Chinese ones: the search box must keep a usable
width, the language menu its label and the account button its whole text, and
no two header controls may overlap.
"""

import pytest
from django.core.cache import cache

from tests.e2e.field_day import field_day

_HEADER = """() => {
  const pick = (selector) => {
    const el = document.querySelector(selector);
    if (!el) return null;
    const box = el.getBoundingClientRect();
    return {x: box.x, y: box.y, w: box.width, h: box.height, clipped: el.scrollWidth > el.clientWidth + 1,
            text: (el.tagName === 'SELECT' ? el.options[el.selectedIndex].text : el.textContent).trim()};
  };
  const boxes = {
    brand: pick('.navbar-brand'),
    toggler: pick('.navbar-toggler'),
    search: pick('.header-search input'),
    language: pick('.header-language select'),
    account: pick('.header-account > .btn'),
    identity: pick('.identity-card'),
  };
  document.querySelectorAll('#main-nav .navbar-nav > .nav-item > .nav-link').forEach((link, index) => {
    boxes['link' + index] = pick(`#main-nav .navbar-nav > .nav-item:nth-child(${index + 1}) > .nav-link`);
  });
  return {boxes, scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth};
}"""


def _overlaps(a, b) -> bool:
    return (
        a["x"] < b["x"] + b["w"] - 1
        and b["x"] < a["x"] + a["w"] - 1
        and a["y"] < b["y"] + b["h"] - 1
        and b["y"] < a["y"] + a["h"] - 1
    )


def _language_width(page) -> float:
    """How wide the select must be to show its label beside the chevron."""
    return page.evaluate(
        """() => {
          const select = document.querySelector('.header-language select');
          const probe = document.createElement('span');
          probe.style.font = getComputedStyle(select).font;
          probe.textContent = select.options[select.selectedIndex].text;
          document.body.appendChild(probe);
          const width = probe.getBoundingClientRect().width;
          probe.remove();
          return width;
        }"""
    )


@pytest.mark.parametrize("width,height", [(1366, 768), (390, 844)])
def test_the_header_lays_out_in_english(
    width, height, transactional_db, live_server, browser, log_in, artifacts, org_tree, manager, supervisor
):
    cache.clear()
    field_day(org_tree, manager, supervisor)
    context = browser.new_context(
        locale="en-GB", timezone_id="Asia/Shanghai", viewport={"width": width, "height": height}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        log_in(page, supervisor)
        page.goto(f"{live_server.url}/customers/")
        folded = width <= 991  # below Bootstrap's lg the menu folds behind the toggler
        if folded:
            page.click(".navbar-toggler")
            page.locator("#main-nav.show").wait_for()
        page.select_option(".header-language select", "en")  # the choice submits itself
        page.wait_for_load_state()
        page.wait_for_function("document.documentElement.lang === 'en'")
        if folded:
            page.click(".navbar-toggler")
            page.locator("#main-nav.show").wait_for()
        page.screenshot(path=str(artifacts / f"english-header-{width}x{height}.png"))
        layout = page.evaluate(_HEADER)
        boxes = {name: box for name, box in layout["boxes"].items() if box and box["w"] > 0}

        assert layout["scrollWidth"] <= layout["innerWidth"], layout
        assert "Customer" in boxes["link1"]["text"], boxes["link1"]
        names = sorted(boxes)
        for i, first in enumerate(names):
            for second in names[i + 1 :]:
                assert not _overlaps(boxes[first], boxes[second]), (
                    first,
                    boxes[first],
                    second,
                    boxes[second],
                )
        assert boxes["search"]["w"] >= 160, boxes["search"]
        if "toggler" in boxes:  # the menu button stays beside the brand
            assert boxes["toggler"]["y"] < boxes["brand"]["y"] + boxes["brand"]["h"], boxes
        assert boxes["language"]["text"] == "English"
        assert boxes["language"]["w"] >= _language_width(page) + 24, boxes["language"]
        assert not boxes["account"]["clipped"] and boxes["account"]["text"] == "Account", boxes["account"]
        # Every language is named in itself.
        options = page.eval_on_selector_all(".header-language option", "options => options.map(o => o.text)")
        assert options == ["简体中文", "English"], options
    finally:
        context.close()
