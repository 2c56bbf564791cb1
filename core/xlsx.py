"""The one writer of the .xlsx workbooks the application hands out.

A workbook is written row by row straight into its zip file (the package
parts openpyxl writes in its write-only mode, with the same cells, types and
styles), so a list of 100,000 customers never sits in memory as cells and
costs a string join per row, not a cell object and an XML element per value
(openpyxl without lxml spends most of an export there). Each sheet has a bold
header row. Every text cell goes through the same two steps:

- control characters are removed (`clean_text`): an XML file cannot hold most of them
  (openpyxl refuses to write them) and none has a meaning in a cell;
- text that a spreadsheet would take for a formula (`looks_like_formula`: starting with = + - @,
  also after leading blanks, or with a tab or carriage return; OWASP's
  advice on formula injection) is written as a string cell with Excel's
  "quote prefix" style. The cell shows and holds exactly the original text,
  with no apostrophe added to the value, so the data stays readable and
  searchable, and the quote prefix is what Excel itself records when someone
  types a leading apostrophe: editing the cell keeps it text.

Every text is a string cell (never a formula). Numbers, dates and None pass
as they are; a timezone-aware datetime becomes the naive local time (Excel
has no time zones). Text is cut at Excel's 32,767 characters per cell.
"""

from __future__ import annotations

import math
import re
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import BytesIO
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from django.utils import timezone
from django.utils.functional import Promise
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
TEXT_FORMAT = "@"

# C0 controls but tab, line feed and carriage return; DEL and C1 controls;
# lone surrogates and the two non-characters XML forbids.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_FORMULA_STARTS = ("=", "+", "-", "@")
_MAX_TEXT = 32767  # characters in a cell, Excel's limit
_SHEET_TITLE = re.compile(r"[\\*?:/\[\]]")


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


# --- Styles ---------------------------------------------------------------------------
# Every combination a cell can need, numbered once: (bold, number format, quote prefix).
# The formats of dates and times are openpyxl's own (what it gives such a value).

_NUMBER_FORMATS = {
    None: 0,
    TEXT_FORMAT: 49,  # built in
    DATETIME_FORMAT: 164,
    "yyyy-mm-dd": 165,  # a date
    "h:mm:ss": 166,  # a time of day
    "[hh]:mm:ss": 167,  # a duration
}
_TIME_FORMATS = (
    (datetime, DATETIME_FORMAT),
    (date, "yyyy-mm-dd"),
    (time, "h:mm:ss"),
    (timedelta, "[hh]:mm:ss"),
)
_STYLES = {
    (bold, number_format, quoted): index
    for index, (bold, number_format, quoted) in enumerate(
        (bold, number_format, quoted)
        for bold in (False, True)
        for number_format in _NUMBER_FORMATS
        for quoted in (False, True)
    )
}


def _styles_xml() -> str:
    custom = "".join(
        f'<numFmt numFmtId="{number}" formatCode={quoteattr(code)}/>'
        for code, number in _NUMBER_FORMATS.items()
        if number >= 164
    )
    font = '<sz val="11"/><name val="Calibri"/><family val="2"/><scheme val="minor"/>'
    xfs = []
    for bold, number_format, quoted in _STYLES:
        attributes = f'numFmtId="{_NUMBER_FORMATS[number_format]}" fontId="{int(bold)}"'
        attributes += ' fillId="0" borderId="0" xfId="0"'
        if number_format:
            attributes += ' applyNumberFormat="1"'
        if bold:
            attributes += ' applyFont="1"'
        if quoted:
            attributes += ' quotePrefix="1"'
        xfs.append(f"<xf {attributes}/>")
    return (
        f'<styleSheet xmlns="{_MAIN}">'
        f'<numFmts count="{custom.count("<numFmt ")}">{custom}</numFmts>'
        f'<fonts count="2"><font>{font}</font><font><b val="1"/>{font}</font></fonts>'
        '<fills count="2"><fill><patternFill/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    )


# --- Cells ----------------------------------------------------------------------------


def _cell(reference: str, value: Any, text_format: bool, bold: bool) -> str:
    """One cell's XML (or "" for None), typed and styled as openpyxl writes it."""
    number_format = TEXT_FORMAT if text_format else None
    if value is None:
        # An empty cell is written only to carry a style (a header's bold, a text format).
        style = _STYLES[bold, number_format, False]
        return f'<c r="{reference}" s="{style}" t="n"/>' if style else ""
    if isinstance(value, Promise):
        value = str(value)
    if isinstance(value, str):
        value = clean_text(value)[:_MAX_TEXT]
        quoted = looks_like_formula(value)
        style = _STYLES[bold, number_format, quoted]
        style_attribute = f' s="{style}"' if style else ""
        if not value:
            return f'<c r="{reference}"{style_attribute} t="inlineStr"/>'
        stripped = value.strip()
        space = ' xml:space="preserve"' if stripped and stripped != value else ""
        return f'<c r="{reference}"{style_attribute} t="inlineStr"><is><t{space}>{escape(value)}</t></is></c>'
    if isinstance(value, bool):
        kind, text = "b", "1" if value else "0"
    elif isinstance(value, int | float | Decimal):
        kind, text = "n", "" if math.isnan(value) or math.isinf(value) else format(value, ".16g")
    elif isinstance(value, datetime | date | time | timedelta):
        if isinstance(value, datetime) and timezone.is_aware(value):
            value = timezone.localtime(value).replace(tzinfo=None)
        kind, text = "n", format(to_excel(value), ".16g")
        if isinstance(value, datetime) or not text_format:
            # A text column keeps "@" over a date's, time's or duration's own format.
            number_format = next(form for cls, form in _TIME_FORMATS if isinstance(value, cls))
    else:
        raise TypeError(f"a cell cannot hold {type(value).__name__}")
    style = _STYLES[bold, number_format, False]
    style_attribute = f' s="{style}"' if style else ""
    if not text:
        return f'<c r="{reference}"{style_attribute} t="{kind}"/>'
    return f'<c r="{reference}"{style_attribute} t="{kind}"><v>{text}</v></c>'


class _Columns(list):
    """Column letters by index (0 → "A"), grown as rows get wider."""

    def upto(self, count: int) -> list[str]:
        while len(self) < count:
            self.append(get_column_letter(len(self) + 1))
        return self


_FORMULA_OR_BLANK_START = frozenset("=+-@\t\r")
_CACHED_PER_COLUMN = 1024


def _text_cell(value: str, text_format: bool) -> str:
    """A data row's text cell after its reference, for text already without control
    characters: what `_cell` writes, with the common case (no formula, no
    surrounding blanks) decided by one look at the first and last characters."""
    if not value:
        return _cell("", value, text_format, False)[len('<c r=""') :]
    if len(value) > _MAX_TEXT:
        value = value[:_MAX_TEXT]
    first = value[0]
    if first in _FORMULA_OR_BLANK_START or first.isspace() or value[-1].isspace():
        return _cell("", value, text_format, False)[len('<c r=""') :]
    style = _STYLES[False, TEXT_FORMAT if text_format else None, False]
    style_attribute = f' s="{style}"' if style else ""
    text = value.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
    return f'{style_attribute} t="inlineStr"><is><t>{text}</t></is></c>'


def _sheet_rows(spec: Sheet, columns: _Columns) -> Iterable[str]:
    yield '<row r="1">'
    for letter, value in zip(columns.upto(len(spec.header)), spec.header, strict=False):
        yield _cell(f"{letter}1", value, False, True)
    yield "</row>"
    text_format = spec.text_format
    # A cell is `<c r="B7"` and what follows the reference (its "tail"). Most of
    # an export's texts repeat (a kind, a station, a label): each column keeps
    # the tails of its first texts, so a repeated text costs one dict lookup
    # instead of cleaning, checking and escaping it again.
    tails: list[dict[str, str]] = []
    zone = timezone.get_current_timezone()
    date_style = f' s="{_STYLES[False, DATETIME_FORMAT, False]}"'
    number_style = _STYLES[False, TEXT_FORMAT if text_format else None, False]
    number_style = f' s="{number_style}"' if number_style else ""
    for number, row in enumerate(spec.rows, start=2):
        row = list(row)
        letters = columns.upto(len(row))
        while len(tails) < len(row):
            tails.append({})
        # Control characters are rare: one search over the row's texts spares
        # each text its own.
        dirty = _CONTROL_CHARACTERS.search("".join([v for v in row if type(v) is str]))
        cells = []
        for letter, value, column in zip(letters, row, tails, strict=False):
            if type(value) is str and not dirty:
                tail = column.get(value)
                if tail is None:
                    tail = _text_cell(value, text_format)
                    if len(column) < _CACHED_PER_COLUMN:
                        column[value] = tail
                cells.append(f'<c r="{letter}{number}"{tail}')
            elif type(value) is int:
                cells.append(f'<c r="{letter}{number}"{number_style} t="n"><v>{value:.16g}</v></c>')
            elif type(value) is datetime and value.utcoffset() is not None:
                # timezone.localtime, with the zone looked up once per sheet.
                local = value.astimezone(zone).replace(tzinfo=None)
                cells.append(f'<c r="{letter}{number}"{date_style} t="n"><v>{to_excel(local):.16g}</v></c>')
            else:
                cells.append(_cell(f"{letter}{number}", value, text_format, False))
        yield f'<row r="{number}">{"".join(cells)}</row>'


# --- Package --------------------------------------------------------------------------

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_ROWS_PER_WRITE = 500
# zlib's fast levels compress a sheet in about a third of the default level's
# time for a file about a sixth larger; every reader inflates them alike.
_COMPRESS_LEVEL = 1


def _sheet_title(title: str, taken: set[str]) -> str:
    """A title Excel accepts, unique in the workbook, as openpyxl would make it."""
    title = clean_text(title)
    if _SHEET_TITLE.search(title):
        raise ValueError(f"a sheet title cannot contain {_SHEET_TITLE.pattern}: {title!r}")
    unique, n = title, 0
    while unique.lower() in taken:
        n += 1
        unique = f"{title}{n}"
    taken.add(unique.lower())
    return unique


def _write_sheet(archive: zipfile.ZipFile, name: str, spec: Sheet) -> None:
    columns = _Columns()
    head = f'{_XML}<worksheet xmlns="{_MAIN}"><sheetViews><sheetView workbookViewId="0"/></sheetViews>'
    head += '<sheetFormatPr baseColWidth="8" defaultRowHeight="15"/>'
    if spec.column_width is not None and len(spec.header):
        widths = "".join(
            f'<col min="{n}" max="{n}" width="{spec.column_width:g}" customWidth="1"/>'
            for n in range(1, len(spec.header) + 1)
        )
        head += f"<cols>{widths}</cols>"
    with archive.open(name, "w") as part:
        part.write(f"{head}<sheetData>".encode())
        chunk: list[str] = []
        for row in _sheet_rows(spec, columns):
            chunk.append(row)
            if len(chunk) >= _ROWS_PER_WRITE:
                part.write("".join(chunk).encode())
                chunk.clear()
        part.write("".join(chunk).encode())
        part.write(
            b"</sheetData>"
            b'<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
            b"</worksheet>"
        )


def write_workbook(sheets: Iterable[Sheet], target: IO[bytes]) -> None:
    """Write the sheets, in order, as one workbook into `target`."""
    titles: list[str] = []
    taken: set[str] = set()
    with zipfile.ZipFile(
        target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=_COMPRESS_LEVEL
    ) as archive:
        for number, spec in enumerate(sheets, start=1):
            titles.append(_sheet_title(spec.title, taken))
            _write_sheet(archive, f"xl/worksheets/sheet{number}.xml", spec)
        sheet_types = "".join(
            f'<Override PartName="/xl/worksheets/sheet{n}.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for n in range(1, len(titles) + 1)
        )
        archive.writestr(
            "[Content_Types].xml",
            f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{sheet_types}</Types>",
        )
        archive.writestr(
            "_rels/.rels",
            f'{_XML}<Relationships xmlns="{_RELATIONSHIPS}"><Relationship Id="rId1" '
            f'Type="{_OFFICE_RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        sheet_list = "".join(
            f'<sheet name={quoteattr(title)} sheetId="{n}" r:id="rId{n}"/>'
            for n, title in enumerate(titles, start=1)
        )
        archive.writestr(
            "xl/workbook.xml",
            f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_OFFICE_RELATIONSHIPS}">'
            f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{sheet_list}</sheets></workbook>',
        )
        relationships = "".join(
            f'<Relationship Id="rId{n}" Type="{_OFFICE_RELATIONSHIPS}/worksheet" '
            f'Target="worksheets/sheet{n}.xml"/>'
            for n in range(1, len(titles) + 1)
        )
        relationships += (
            f'<Relationship Id="rId{len(titles) + 1}" Type="{_OFFICE_RELATIONSHIPS}/styles" '
            'Target="styles.xml"/>'
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'{_XML}<Relationships xmlns="{_RELATIONSHIPS}">{relationships}</Relationships>',
        )
        archive.writestr("xl/styles.xml", _XML + _styles_xml())


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
