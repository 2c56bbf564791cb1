"""Every template of the project compiles (its tag libraries load) and every template it
names by a constant — extends, include — exists: a partial removed or renamed fails
here, not on the first page that happens to render it."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import TemplateDoesNotExist
from django.template.loader import get_template

ROOT = Path(settings.BASE_DIR) / "templates"
NAMED = re.compile(r"""\{%\s*(?:extends|include)\s+(["'])([^"']+)\1""")
TEMPLATES = sorted(path.relative_to(ROOT).as_posix() for path in ROOT.rglob("*.html"))


def test_there_are_templates_to_check():
    assert len(TEMPLATES) > 50


@pytest.mark.parametrize("name", TEMPLATES)
def test_the_template_compiles_and_names_only_templates_that_exist(name):
    get_template(name)
    for _quote, named in NAMED.findall((ROOT / name).read_text(encoding="utf-8")):
        try:
            get_template(named)
        except TemplateDoesNotExist:
            pytest.fail(f"{name} names {named}, which does not exist")
