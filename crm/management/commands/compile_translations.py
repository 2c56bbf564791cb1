"""Compile the project's translation catalogues (LOCALE_PATHS) to .mo files.

With GNU gettext installed this is Django's `compilemessages`; without it,
polib (requirements-build.txt) writes the .mo files, so a machine without
msgfmt still gets a working English interface. A build step: the running
application needs the .mo files, not polib.
"""

import shutil
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

# Directories compilemessages must not walk into (virtualenvs, VCS, build output).
IGNORED = [".*", "node_modules", "staticfiles", "var", "media"]


def catalogues() -> list[Path]:
    found: list[Path] = []
    for locale_dir in settings.LOCALE_PATHS:
        found.extend(sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")))
    return found


class Command(BaseCommand):
    help = "Compile the .po files under LOCALE_PATHS (msgfmt when present, else polib)."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--use-polib", action="store_true", help="compile with polib even when msgfmt is installed"
        )

    def handle(self, *args, use_polib: bool, **options):
        po_files = catalogues()
        if not po_files:
            self.stdout.write("No translation catalogues to compile.")
            return
        if shutil.which("msgfmt") and not use_polib:
            call_command("compilemessages", ignore_patterns=IGNORED, verbosity=options["verbosity"])
            return
        try:
            import polib
        except ImportError as exc:
            raise CommandError(
                "Neither GNU gettext's msgfmt nor polib is installed: "
                "install gettext, or pip install -r requirements-build.txt"
            ) from exc
        for po_path in po_files:
            mo_path = po_path.with_suffix(".mo")
            if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                continue
            # Fuzzy and untranslated entries are left out, as msgfmt does.
            polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
            self.stdout.write(f"compiled {po_path}")
