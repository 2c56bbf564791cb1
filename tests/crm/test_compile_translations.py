import gettext
import io
import shutil
import sys

import pytest
from django.core.management import CommandError, call_command

PO = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

msgid "客户档案"
msgstr "Customer archive"

#, fuzzy
msgid "消息"
msgstr "Messages (draft)"
"""


@pytest.fixture
def locale_dir(tmp_path, settings, monkeypatch):
    catalogue = tmp_path / "locale" / "en" / "LC_MESSAGES"
    catalogue.mkdir(parents=True)
    (catalogue / "django.po").write_text(PO, encoding="utf-8")
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(tmp_path)
    return catalogue


def translations(catalogue) -> gettext.GNUTranslations:
    with open(catalogue / "django.mo", "rb") as mo:
        return gettext.GNUTranslations(mo)


def test_polib_fallback_compiles_translated_entries_only(locale_dir, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)

    call_command("compile_translations", stdout=io.StringIO())

    compiled = translations(locale_dir)
    assert compiled.gettext("客户档案") == "Customer archive"
    assert compiled.gettext("消息") == "消息"


def test_without_msgfmt_or_polib_it_says_what_to_install(locale_dir, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "polib", None)  # as if it were not installed

    with pytest.raises(CommandError, match="install gettext, or pip install -r requirements-build.txt"):
        call_command("compile_translations", stdout=io.StringIO())

    assert not (locale_dir / "django.mo").exists()


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext (msgfmt) is not installed")
def test_msgfmt_compiles_the_same_catalogue(locale_dir):
    call_command("compile_translations", stdout=io.StringIO(), stderr=io.StringIO())

    compiled = translations(locale_dir)
    assert compiled.gettext("客户档案") == "Customer archive"
    assert compiled.gettext("消息") == "消息"


def test_no_catalogues_is_not_an_error(tmp_path, settings):
    settings.LOCALE_PATHS = [tmp_path / "missing"]
    out = io.StringIO()

    call_command("compile_translations", stdout=out)

    assert "No translation catalogues" in out.getvalue()
