"""What the browser tests share for the two widths and the accessibility check (axe-core, vendored)."""

from pathlib import Path

SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
_RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
    resultTypes: ['violations'],
  });
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`);
}"""


def serious_violations(page) -> list[str]:
    """The page's serious and critical WCAG 2.1 AA violations, one line each (the page's CSP
    must let the script in: open it in a context with bypass_csp=True)."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate(_RUN)
