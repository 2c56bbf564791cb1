"""The one writer of the .xlsx workbooks the application hands out.

A workbook is written in openpyxl's write-only mode, row by row, so a list of
100,000 customers never sits in memory as cells. Each sheet has a bold header
row. Every text cell goes through the same two steps:

- control characters are removed (`clean_text`): an XML file cannot hold most of them
  (openpyxl refuses to write them) and none has a meaning in a cell;
- text that a spreadsheet would take for a formula (`looks_like_formula`: starting with = + - @,
  also after leading blanks, or with a tab or carriage return; OWASP's
  advice on formula injection) is written as a string cell with Excel's
  "quote prefix" style. openpyxl would otherwise write any text starting
  with "=" as a formula. The cell shows and holds exactly the original text,
  with no apostrophe added to the value, so the data stays readable and
  searchable, and the quote prefix is what Excel itself records when someone
  types a leading apostrophe: editing the cell keeps it text.

Numbers, dates and None pass as they are; a timezone-aware datetime becomes
the naive local time (Excel has no time zones).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import IO, Any

from django.utils import timezone
from django.utils.functional import Promise
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
TEXT_FORMAT = "@"

# C0 controls but tab, line feed and carriage return; DEL and C1 controls;
# lone surrogates and the two non-characters XML forbids.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_FORMULA_STARTS = ("=", "+", "-", "@")
_BOLD = Font(bold=True)


@dataclass
class Sheet:
    """One sheet: its title, a header row and the data rows (any iterable, read once).

    `column_width` sets the width of every header column; `text_format` formats
    the data cells as text, so what a user types over them stays text too.
    """

    title: str
    header: Sequence[Any]
    rows: Iterable[Sequence[Any]]
    column_width: float | None = None
    text_format: bool = False


def clean_text(text: str) -> str:
    """The text without control characters."""
    return _CONTROL_CHARACTERS.sub("", text)


def looks_like_formula(text: str) -> bool:
    return text.lstrip().startswith(_FORMULA_STARTS) or text.startswith(("\t", "\r"))


def _cell(sheet, value: Any, *, text_format: bool = False, bold: bool = False):
    """What to append for `value`: the value itself when openpyxl writes it as
    it should, else a cell carrying its type and style."""
    if isinstance(value, Promise):
        value = str(value)
    formula_like = False
    number_format = TEXT_FORMAT if text_format else None
    if isinstance(value, str):
        value = clean_text(value)
        formula_like = looks_like_formula(value)
    elif isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value).replace(tzinfo=None)
        number_format = DATETIME_FORMAT
    if not (formula_like or number_format or bold):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    if formula_like:
        # openpyxl takes any text starting with "=" for a formula.
        cell.data_type = "s"
        cell.quotePrefix = True
    if number_format:
        cell.number_format = number_format
    if bold:
        cell.font = _BOLD
    return cell


def write_workbook(sheets: Iterable[Sheet], target: IO[bytes]) -> None:
    """Write the sheets, in order, as one workbook into `target`."""
    workbook = Workbook(write_only=True)
    for spec in sheets:
        sheet = workbook.create_sheet(clean_text(spec.title))
        if spec.column_width is not None:
            for column in range(1, len(spec.header) + 1):
                sheet.column_dimensions[get_column_letter(column)].width = spec.column_width
        sheet.append([_cell(sheet, value, bold=True) for value in spec.header])
        for row in spec.rows:
            sheet.append([_cell(sheet, value, text_format=spec.text_format) for value in row])
    workbook.save(target)


def workbook_bytes(sheets: Iterable[Sheet]) -> bytes:
    """The workbook as bytes, for a small one."""
    buffer = BytesIO()
    write_workbook(sheets, buffer)
    return buffer.getvalue()


def workbook_file(sheets: Iterable[Sheet]) -> IO[bytes]:
    """The workbook in a temporary file (in memory up to 8 MB), rewound, for a
    large one streamed by a FileResponse, which closes the file when sent."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    write_workbook(sheets, spool)
    spool.seek(0)
    return spool
