"""The English translation is kept complete (ARCHITECTURE rule 10).

The catalogue in locale/en is compared with what `makemessages` extracts from
the code right now, in a scratch copy of the project, so a string added
without its translation fails here rather than showing up in Chinese on an
English page.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"


def _sources() -> list[str]:
    """The project's packages (every top-level folder with an __init__.py) and the templates."""
    packages = sorted(
        p.name for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name not in ("tests", "bench")
    )
    return [*packages, "templates"]


def _entries(po: polib.POFile) -> dict[tuple[str | None, str], polib.POEntry]:
    return {(e.msgctxt, e.msgid): e for e in po if not e.obsolete}


def test_every_entry_is_translated_and_none_is_fuzzy():
    po = polib.pofile(str(CATALOGUE))
    untranslated = [e.msgid for e in po.untranslated_entries()]
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="gettext tools are not installed")
def test_the_catalogue_covers_every_string_in_the_code(tmp_path):
    for name in (*_sources(), "manage.py"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "migrations")
            )
        elif source.exists():
            shutil.copy(source, tmp_path / name)
    (tmp_path / "locale").mkdir()
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "en", "--no-location", "-i", "tests/*"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "CRM_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(tmp_path)},
    )
    extracted = _entries(polib.pofile(str(tmp_path / "locale" / "en" / "LC_MESSAGES" / "django.po")))
    kept = _entries(polib.pofile(str(CATALOGUE)))
    missing = sorted(msgid for key, msgid in ((k, k[1]) for k in extracted) if key not in kept)
    assert missing == [], f"{len(missing)} strings lack an English translation: run `make messages`"
