"""Importing customer archives from a spreadsheet (.xlsx or .csv).

The file
--------
One sheet (the first of an .xlsx workbook) or a CSV file (UTF-8, with or
without BOM, or GB18030 as saved by Chinese Excel), the first row holding the
headers of `COLUMNS` in any order: all of them, each once, nothing else.
Headers are matched after trimming spaces, with full-width brackets read as
ASCII ones; `客户经理` is accepted for `客户经理(用户名)`. `import_template()`
builds the template with one example row.

Cells
-----
- 户号 (10–13 digits) and 客户名称 are required; 户号 identifies the archive:
  a new number opens one, a known number updates it.
- 供电所编码 is required: a station the importing user may open archives in.
  台区编码, 线路编码 and 客户经理(用户名) must exist and fit the station under
  the rules of customers.services.customer_network_errors; a line left
  blank is taken from the district.
- 用电类别, 城乡, 电压等级 and VIP等级 take the labels the pages show (居民,
  城市, 10kV, 重要VIP...) or their codes; the five flags take 是/否 (also
  Y/N, 1/0, √).
- 联系人 with 手机号码 and/or 固定电话 is the primary contact: a new one is
  added when the archive has none, otherwise the primary contact's name and
  phones are replaced.
- A blank optional cell leaves the stored value as it is (for a new archive:
  the default), so a partial file never wipes data.

A known number is updated only when the archive's current station is one the
user may open archives in; a deleted archive's number is refused.

Steps
-----
`check_upload()` rejects at once (nothing stored) a file over 5 MB, one that
is not a spreadsheet by its content, and wrong or missing headers.
`validate_job()` (a Celery task) parses and checks every row and stores the
bad rows and the counts of would-be created/updated/unchanged archives.
`write_job()` (a Celery task, after the user confirms) checks again against
the current data and writes the valid rows in batches of 1,000: new archives
and contacts by COPY on PostgreSQL (bulk_create elsewhere), changed ones with
bulk_update, one history row per created or changed archive or contact (by
the importing user, COPY on PostgreSQL) and the completeness score from
customers.quality. The database triggers (versions, the sync feed) see these
statements as any other write.

Both steps are set-based: the file is streamed (the sheet's XML read with
expat, see _SheetParser), stations, districts, lines, managers, archives and
contacts are fetched once per kind for the whole file, and new archives are
copied from a prototype instance; the query count does not grow with the rows
(tests/customers/test_import_queries.py). Both claim the job with a
conditional UPDATE, so running either twice has the effect of once.
Each batch commits on its own: if a batch fails (say, a number taken by
another writer since the check), the job is marked failed with the batches
before it written; importing the same file again completes it, since rows
already written count as unchanged.
"""

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import F
from django.db.models.base import ModelState
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.choices import stations_for
from accounts.models import OrgUnit, User, mobile_validator
from core.text import text_error
from core.xlsx import CONTENT_TYPE as XLSX_CONTENT_TYPE
from core.xlsx import Sheet, workbook_bytes
from customers.models import (
    SENSITIVITY_FLAGS,
    Contact,
    Customer,
    District,
    ImportJob,
    Line,
    fill_name_pinyin,
    landline_validator,
)
from customers.quality import completeness_score
from customers.services import customer_network_errors

BATCH_SIZE = 1000
PROGRESS_EVERY = 1000

# (header, key) in template order.
COLUMNS = (
    ("户号", "number"),
    ("客户名称", "name"),
    ("用电类别", "kind"),
    ("城乡", "segment"),
    ("电压等级", "voltage"),
    ("用电地址", "address"),
    ("供电所编码", "station"),
    ("台区编码", "district"),
    ("线路编码", "line"),
    ("客户经理(用户名)", "manager"),
    ("VIP等级", "vip_tier"),
    ("高敏客户", "is_high_sensitivity"),
    ("重要客户", "is_important"),
    ("重点关注", "is_key_attention"),
    ("特殊客户", "is_special"),
    ("敏感客户", "is_sensitive"),
    ("联系人", "contact_name"),
    ("手机号码", "mobile"),
    ("固定电话", "landline"),
)
HEADERS = tuple(header for header, _key in COLUMNS)
HEADER_OF = {key: header for header, key in COLUMNS}
_HEADER_ALIASES = {"客户经理": "客户经理(用户名)"}
EXAMPLE_ROW = (
    "5201000001",
    "雷山县永乐酒店",
    "一般工商业",
    "城市",
    "380V",
    "雷山县丹江镇永乐路18号",
    "LS01",
    "TQ-LS-1",
    "",
    "zhangsan",
    "非VIP",
    "否",
    "是",
    "否",
    "否",
    "否",
    "杨老板",
    "13885551234",
    "0855-3331234",
)
CUSTOMER_KEYS = (
    "name",
    "kind",
    "segment",
    "voltage",
    "address",
    "station",
    "district",
    "line",
    "manager",
    "vip_tier",
    *SENSITIVITY_FLAGS,
)
_TRUE = {"是", "y", "yes", "1", "true", "√", "✓"}
_FALSE = {"否", "n", "no", "0", "false", "×"}
_NUMBER = re.compile(r"^\d{10,13}$")
_CONTENT_TYPES = {
    ImportJob.Format.XLSX: XLSX_CONTENT_TYPE,
    ImportJob.Format.CSV: "text/csv",
}


_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"Rar!", b"\x1f\x8b", b"7z\xbc\xaf")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message says why, in the user's language."""


def max_file_size() -> int:
    return settings.CUSTOMER_IMPORT_MAX_MB * 1024 * 1024


def check_size(size: int) -> None:
    if size > max_file_size():
        raise ImportFileError(
            _("文件超过 %(limit)d MB，请拆分后分批导入。") % {"limit": settings.CUSTOMER_IMPORT_MAX_MB}
        )


# --- Reading the file ---------------------------------------------------------------


def sniff_format(content: bytes, file_name: str) -> str:
    """The file's format by its content, or ImportFileError."""
    if content[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                names = set(archive.namelist())
        except zipfile.BadZipFile:
            names = set()
        if "xl/workbook.xml" in names:
            return ImportJob.Format.XLSX
        raise ImportFileError(_("文件不是Excel表格（.xlsx），请使用导入模板。"))
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFileError(_("不支持旧版Excel（.xls）文件，请在Excel中另存为 .xlsx 后再导入。"))
    if not content.startswith(_BINARY_MAGIC) and b"\x00" not in content:
        try:
            text = _decode_csv(content)
        except ImportFileError:
            text = None
        if text is not None and not _CONTROL.search(text):
            return ImportJob.Format.CSV
    raise ImportFileError(_("文件不是电子表格，请上传 .xlsx 或 .csv 文件。"))


def _decode_csv(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(_("无法识别CSV文件的编码，请另存为UTF-8或GB18030编码。"))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # Excel keeps long digit strings typed in as numbers.
        value = int(value)
    return str(value).strip()


def _first_sheet(content: bytes):
    """The first worksheet, opened for streaming: (sheet, archive to close).

    openpyxl's read-only sheet trusts `<dimension>`: one saying A1:X2 cuts the
    rows after the second, and when it is missing the whole sheet is parsed
    just to open the workbook. This sheet is never sized: rows are read as they
    come, up to the last one the file holds.
    """
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    class UnsizedSheet(ReadOnlyWorksheet):
        def _get_size(self) -> None:
            pass

    reader = ExcelReader(io.BytesIO(content), read_only=True, data_only=True)
    try:
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        for sheet, rel in reader.parser.find_sheets():
            if rel.target in reader.valid_files and "chartsheet" not in rel.Type:
                return UnsizedSheet(reader.wb, sheet.name, rel.target, reader.shared_strings), reader.archive
    except Exception:
        reader.archive.close()
        raise
    reader.archive.close()
    raise ImportFileError(_("Excel文件中没有工作表。"))


_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW, _CELL = f"{_SHEET_NS}row", f"{_SHEET_NS}c"
_VALUES = (f"{_SHEET_NS}v", f"{_SHEET_NS}is")
# The same names as expat reports them (namespace, "}", local name).
_X_ROW, _X_CELL, _X_V, _X_IS, _X_T, _X_PHONETIC = (
    f"{_SHEET_NS[1:]}{tag}" for tag in ("row", "c", "v", "is", "t", "rPh")
)
_COORDINATE = re.compile(r"^[$]?([A-Za-z]{1,3})[$]?(\d+)$")


class _SheetParser:
    """Rows of cell values from a worksheet's XML, fed in chunks to expat.

    Hand-written because openpyxl builds a cell object and a Text object per
    cell, and ElementTree's iterparse under defusedxml runs its pure-Python
    tree builder: together about four fifths of an import's reading time.
    The values, the missing rows and cells, the dates and the rows out of
    order come out as openpyxl's read-only iter_rows(values_only=True) gives
    them. Like defusedxml, a document type declaration (the door to entity
    expansion) is refused: a worksheet never has one.
    """

    def __init__(self, sheet):
        import pyexpat

        workbook = sheet.parent
        self.shared = sheet._shared_strings
        self.date_formats = workbook._date_formats
        self.timedelta_formats = workbook._timedelta_formats
        self.epoch = workbook.epoch
        self.columns: dict[str, int] = {}
        self.rows: list[list[tuple[int, Any]]] = []
        self.expected = 1  # the next row number the sheet should hold
        self.row_number = 0
        self.cells: list[tuple[int, Any]] = []
        self.column = 0
        self.cell_type = "n"
        self.cell_style = ""
        self.value: str | None = None
        self.inline: list[str] | None = None
        self.text: list[str] | None = None  # while inside <v> or an inline <t>
        self.in_phonetic = False
        parser = pyexpat.ParserCreate(namespace_separator="}")
        parser.buffer_text = True
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._characters
        parser.StartDoctypeDeclHandler = self._doctype
        self.parser = parser

    @staticmethod
    def _doctype(*_args) -> None:
        raise ValueError("a worksheet with a document type declaration")

    def _characters(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        if tag == _X_CELL:
            coordinate = attrs.get("r")
            if coordinate:
                letters = _COORDINATE.match(coordinate)
                if letters is None:
                    raise ValueError(f"Invalid cell coordinates ({coordinate})")
                key = letters.group(1)
                column = self.columns.get(key)
                if column is None:
                    from openpyxl.utils.cell import column_index_from_string

                    column = self.columns[key] = column_index_from_string(key)
                self.column = column
            else:
                self.column += 1
            self.cell_type = attrs.get("t", "n")
            self.cell_style = attrs.get("s", "")
            self.value, self.inline = None, None
        elif tag == _X_V:
            self.text = []
        elif tag == _X_IS:
            self.inline = []
        elif tag == _X_T:
            if self.inline is not None and not self.in_phonetic:
                self.text = []
        elif tag == _X_PHONETIC:
            self.in_phonetic = True
        elif tag == _X_ROW:
            number = attrs.get("r")
            if number is not None:
                try:
                    self.row_number = int(number)
                except ValueError:
                    as_float = float(number)
                    if not as_float.is_integer():
                        raise ValueError(f"{number} is not a valid row number") from None
                    self.row_number = int(as_float)
            else:
                self.row_number += 1
            self.cells, self.column = [], 0

    def _end(self, tag: str) -> None:
        if tag == _X_V:
            if self.value is None:
                self.value = "".join(self.text or ())
            self.text = None
        elif tag == _X_T:
            if self.text is not None:
                self.inline.append("".join(self.text))
                self.text = None
        elif tag == _X_PHONETIC:
            self.in_phonetic = False
        elif tag == _X_CELL:
            self.cells.append((self.column, self._cell_value()))
            self.inline = None
        elif tag == _X_ROW:
            self._row_done()

    def _cell_value(self) -> Any:
        data_type = self.cell_type
        if data_type == "inlineStr":
            return None if self.inline is None else "".join(self.inline)
        value: Any = self.value or None
        if value is None:
            return None
        if data_type == "n":
            value = float(value) if ("." in value or "E" in value or "e" in value) else int(value)
            style = int(self.cell_style or 0)
            if style in self.date_formats:
                from openpyxl.utils.datetime import from_excel

                try:
                    value = from_excel(value, self.epoch, timedelta=style in self.timedelta_formats)
                except (OverflowError, ValueError):
                    value = "#VALUE!"
        elif data_type == "s":
            value = self.shared[int(value)]
        elif data_type == "b":
            value = bool(int(value))
        elif data_type == "d":
            from openpyxl.utils.datetime import from_ISO8601

            value = from_ISO8601(value)
        return value

    def _row_done(self) -> None:
        # Missing rows come as empty ones (line numbers stay those of the sheet);
        # a row out of order is skipped.
        while self.expected < self.row_number:
            self.expected += 1
            self.rows.append([])
        if self.expected > self.row_number:
            return
        self.expected += 1
        cells = self.cells
        if not cells:
            self.rows.append([])
            return
        self.rows.append(cells)

    def feed(self, chunk: bytes, final: bool = False) -> list[list[tuple[int, Any]]]:
        self.parser.Parse(chunk, final)
        rows, self.rows = self.rows, []
        return rows


def _sheet_rows(sheet, archive) -> Iterator[list[str]]:
    """The cell texts of every row of a read-only sheet, streamed (see _SheetParser)."""
    parser = _SheetParser(sheet)
    with archive.open(sheet._worksheet_path) as source:
        while True:
            chunk = source.read(1 << 16)
            # Cells are converted to text row by row as they are taken: a reader
            # that stops early (the header check) converts no more than it reads.
            for cells in parser.feed(chunk, final=not chunk):
                yield _row_texts(cells)
            if not chunk:
                return


def _row_texts(cells: list[tuple[int, Any]]) -> list[str]:
    if not cells:
        return []
    width = cells[-1][0]
    row = [""] * width
    for position, value in cells:
        if 1 <= position <= width:
            row[position - 1] = _cell_text(value)
    return row


def _raw_rows(content: bytes, file_format: str) -> Iterator[list[str]]:
    if file_format == ImportJob.Format.XLSX:
        try:
            sheet, archive = _first_sheet(content)
        except ImportFileError:
            raise
        except Exception as exc:  # openpyxl raises many kinds for a damaged file
            raise ImportFileError(_("Excel文件已损坏，无法读取。")) from exc
        try:
            yield from _sheet_rows(sheet, archive)
        except Exception as exc:
            raise ImportFileError(_("Excel文件已损坏，无法读取。")) from exc
        finally:
            archive.close()
    else:
        text = _decode_csv(content)
        try:
            for row in csv.reader(io.StringIO(text, newline="")):
                yield [value.strip() for value in row]
        except csv.Error as exc:
            raise ImportFileError(_("CSV文件格式有误：%(error)s") % {"error": exc}) from exc


def _normalize_header(text: str) -> str:
    text = text.replace("（", "(").replace("）", ")").replace(" ", "").replace("\u3000", "")
    return _HEADER_ALIASES.get(text, text)


def _header_positions(header_row: list[str]) -> dict[str, int]:
    """Column index of each key; ImportFileError when headers are missing, unknown or repeated."""
    positions: dict[str, int] = {}
    unknown, repeated = [], []
    keys = dict(COLUMNS)
    for index, raw in enumerate(header_row):
        header = _normalize_header(raw)
        if not header:
            continue
        if header not in keys:
            unknown.append(raw)
        elif keys[header] in positions:
            repeated.append(raw)
        else:
            positions[keys[header]] = index
    missing = [header for header, key in COLUMNS if key not in positions]
    problems = []
    if missing:
        problems.append(_("缺少列：%(columns)s") % {"columns": "、".join(missing)})
    if unknown:
        problems.append(_("无法识别的列：%(columns)s") % {"columns": "、".join(unknown)})
    if repeated:
        problems.append(_("重复的列：%(columns)s") % {"columns": "、".join(repeated)})
    if problems:
        raise ImportFileError(
            _("表头与导入模板不符（%(problems)s）。请下载导入模板，按模板的列名填写。")
            % {"problems": "；".join(problems)}
        )
    return positions


def read_rows(content: bytes, file_format: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {key: text}) for every non-empty data row; headers checked first."""
    rows = _raw_rows(content, file_format)
    header_row = next(rows, None)
    if header_row is None:
        raise ImportFileError(_("文件是空的。"))
    positions = _header_positions(header_row)
    for line, row in enumerate(rows, start=2):
        if not any(row):
            continue
        yield line, {key: (row[index] if index < len(row) else "") for key, index in positions.items()}


def _too_many_rows() -> ImportFileError:
    return ImportFileError(
        _("文件超过 %(limit)s 行数据，请拆分后分批导入。") % {"limit": f"{settings.IMPORT_MAX_ROWS:,}"}
    )


def _xlsx_rows_with_values(content: bytes) -> Iterator[None]:
    """One item per row of the first sheet holding a value, straight from the XML.

    No cell is converted: the upload only needs the count, and the worker reads the
    values. (A row of empty strings counts here and is skipped there: the count
    can only err on the side of the limit.)
    """
    from openpyxl.xml.functions import iterparse

    try:
        sheet, archive = _first_sheet(content)
    except ImportFileError:
        raise
    except Exception as exc:
        raise ImportFileError(_("Excel文件已损坏，无法读取。")) from exc
    try:
        with archive.open(sheet._worksheet_path) as source:
            for _event, element in iterparse(source):
                if element.tag == _ROW:
                    if any(cell.tag == _CELL and any(v.tag in _VALUES for v in cell) for cell in element):
                        yield None
                    element.clear()
    except ImportFileError:
        raise
    except Exception as exc:
        raise ImportFileError(_("Excel文件已损坏，无法读取。")) from exc
    finally:
        archive.close()


def check_row_count(content: bytes, file_format: str) -> int:
    """The data rows of the file, counted as they stream by; ImportFileError past IMPORT_MAX_ROWS.

    Counting stops at the first row over the limit: a file of a million rows costs
    no more than one of IMPORT_MAX_ROWS + 1.
    """
    limit = settings.IMPORT_MAX_ROWS
    if file_format == ImportJob.Format.XLSX:
        rows = _xlsx_rows_with_values(content)
        next(rows, None)  # the header row
    else:
        rows = read_rows(content, file_format)
    count = 0
    for _row in rows:
        count += 1
        if count > limit:
            rows.close()
            raise _too_many_rows()
    return count


def check_upload(*, content: bytes, file_name: str) -> str:
    """Checks made before a job is stored: size, type by content, headers, rows. Returns the format."""
    check_size(len(content))
    if not content:
        raise ImportFileError(_("文件是空的。"))
    file_format = sniff_format(content, file_name)
    # The header row first (its message is the more useful), then the count.
    next(read_rows(content, file_format), None)
    check_row_count(content, file_format)
    return file_format


def import_template() -> bytes:
    """The template workbook: the headers and one example row, formatted as text
    (a customer number typed over it stays text)."""
    return workbook_bytes([Sheet(_("客户档案"), HEADERS, [EXAMPLE_ROW], column_width=16, text_format=True)])


def content_type(file_format: str) -> str:
    return _CONTENT_TYPES[file_format]


# --- Checking rows ------------------------------------------------------------------


def _choice_lookup(choices: Iterable[tuple[Any, Any]]) -> dict[str, Any]:
    lookup: dict[str, Any] = {}
    for value, label in choices:
        lookup[str(value).lower()] = value
        lookup[str(label).lower()] = value
    return lookup


_KINDS = _choice_lookup(Customer.Kind.choices)
_SEGMENTS = _choice_lookup(Customer.Segment.choices)
_VOLTAGES = _choice_lookup(Customer.Voltage.choices)
_VIP_TIERS = _choice_lookup(Customer.VipTier.choices)
_CHOICES = {"kind": _KINDS, "segment": _SEGMENTS, "voltage": _VOLTAGES, "vip_tier": _VIP_TIERS}
_CHOICE_MESSAGES = {
    "kind": gettext_lazy("用电类别应为：居民、一般工商业、大工业、农业或其他。"),
    "segment": gettext_lazy("城乡应为：城市或农村。"),
    "voltage": gettext_lazy("电压等级应为：220V、380V、10kV、35kV、110kV或220kV。"),
    "vip_tier": gettext_lazy("VIP等级应为：非VIP、VIP、重要VIP或战略VIP（或0–3）。"),
}
_MAX_LENGTHS = {"name": 100, "address": 255, "contact_name": 50}


@dataclass
class RowPlan:
    """What one valid row does: `action` is "create", "update" or "unchanged"."""

    line: int
    action: str
    customer: Customer
    contact: Contact | None = None
    contact_action: str = ""  # "create", "update" or ""
    changed_fields: list[str] = field(default_factory=list)


@dataclass
class Plan:
    rows: list[RowPlan] = field(default_factory=list)
    errors: list[list[Any]] = field(default_factory=list)
    total: int = 0

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def rejected(self) -> int:
        return len({line for line, _column, _message in self.errors})


def _clean_row(values: dict[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Cell texts to Python values; errors as (key, message)."""
    cleaned: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    # The text rule of every form and API field (core.text): a cell is one line of text.
    # The rule refuses characters, not sequences: the row passes when its cells joined do.
    if text_error("".join(values.values())) is not None:
        for key, text in values.items():
            message = text_error(text)
            if message is not None:
                errors.append((key, str(message)))
    if errors:
        return {"number": ""}, errors
    number = values["number"]
    if not number:
        errors.append(("number", _("请填写户号。")))
    elif not _NUMBER.match(number):
        errors.append(("number", _("户号必须是10到13位数字。")))
    cleaned["number"] = number
    if not values["name"]:
        errors.append(("name", _("请填写客户名称。")))
    if not values["station"]:
        errors.append(("station", _("请填写供电所编码。")))
    for key, limit in _MAX_LENGTHS.items():
        if len(values[key]) > limit:
            errors.append((key, _("不能超过%(limit)d个字。") % {"limit": limit}))
    for key in ("name", "address", "station", "district", "line", "manager"):
        if values[key]:
            cleaned[key] = values[key]
    for key, lookup in _CHOICES.items():
        text = values[key]
        if not text:
            continue
        value = lookup.get(text.lower())
        if value is None:
            errors.append((key, str(_CHOICE_MESSAGES[key])))
        else:
            cleaned[key] = value
    for key in SENSITIVITY_FLAGS:
        text = values[key].lower()
        if not text:
            continue
        if text in _TRUE:
            cleaned[key] = True
        elif text in _FALSE:
            cleaned[key] = False
        else:
            errors.append((key, _("请填写“是”或“否”。")))
    contact_name, mobile, landline = values["contact_name"], values["mobile"], values["landline"]
    for key, validator in (("mobile", mobile_validator), ("landline", landline_validator)):
        if values[key]:
            try:
                validator(values[key])
            except ValidationError as exc:
                errors.append((key, str(exc.messages[0])))
    if (mobile or landline) and not contact_name:
        errors.append(("contact_name", _("填写了电话时请填写联系人。")))
    if contact_name and not (mobile or landline):
        errors.append(("mobile", _("手机号码和固定电话至少填写一项。")))
    if contact_name:
        cleaned["contact"] = {"name": contact_name, "mobile": mobile, "landline": landline}
    return cleaned, errors


def _chunks(items: list, size: int = BATCH_SIZE) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Lookups:
    """Stations, districts, lines, managers and existing archives named by the file, fetched in sets."""

    def __init__(self, rows: list[tuple[int, dict[str, Any]]], user: User):
        def wanted(key: str) -> list[str]:
            return sorted({values[key] for _line, values in rows if values.get(key)})

        self.allowed_station_ids = set(stations_for(user).values_list("pk", flat=True))
        self.stations = self._by(
            OrgUnit.objects.filter(level=OrgUnit.Level.STATION), "code", wanted("station")
        )
        self.districts = self._by(District.objects.select_related("line"), "code", wanted("district"))
        self.lines = self._by(Line.objects.all(), "code", wanted("line"))
        self.managers = self._by(
            User.objects.filter(is_active=True).select_related("org_unit"), "username", wanted("manager")
        )
        self.customers = self._by(
            Customer.all_objects.select_related("district__line", "line", "manager__org_unit"),
            "number",
            wanted("number"),
        )
        self.contacts: dict[int, list[Contact]] = {}
        live_ids = [customer.pk for customer in self.customers.values() if customer.deleted_at is None]
        for chunk in _chunks(live_ids):
            for contact in Contact.objects.filter(customer_id__in=chunk).order_by("-is_primary", "id"):
                self.contacts.setdefault(contact.customer_id, []).append(contact)
        self.station_by_id = {station.pk: station for station in self.stations.values()}

    @staticmethod
    def _by(queryset, key: str, values: list[str]) -> dict[str, Any]:
        found = {}
        for chunk in _chunks(values):
            for obj in queryset.filter(**{f"{key}__in": chunk}):
                found[getattr(obj, key)] = obj
        return found


def _resolve(cleaned: dict[str, Any], lookups: _Lookups, errors: list[tuple[str, str]]) -> dict[str, Any]:
    """Codes to objects (None for an unknown code, reported in `errors`)."""
    resolved: dict[str, Any] = {}
    station = lookups.stations.get(cleaned.get("station", ""))
    if cleaned.get("station") and station is None:
        errors.append(("station", _("供电所编码“%(code)s”不存在。") % {"code": cleaned["station"]}))
    elif station is not None and station.pk not in lookups.allowed_station_ids:
        errors.append(("station", _("您无权在%(station)s建立客户档案。") % {"station": station}))
    resolved["station"] = station
    for key, table, message in (
        ("district", lookups.districts, _("台区编码“%(code)s”不存在。")),
        ("line", lookups.lines, _("线路编码“%(code)s”不存在。")),
        ("manager", lookups.managers, _("用户名为“%(code)s”的客户经理不存在或已停用。")),
    ):
        if key in cleaned:
            obj = table.get(cleaned[key])
            if obj is None:
                errors.append((key, message % {"code": cleaned[key]}))
            resolved[key] = obj
    return resolved


_PROTOTYPES: dict[type, Any] = {}


def _new(model):
    """A new, unsaved instance with every field at its default, as model() gives it.

    Copied from one instance built once: Model.__init__ walks every field, a
    tenth of a millisecond per row of an import. The defaults of Customer and
    Contact are constants (a mutable or callable default would need __init__).
    """
    prototype = _PROTOTYPES.get(model)
    if prototype is None:
        prototype = _PROTOTYPES[model] = model()
    instance = model.__new__(model)
    instance.__dict__.update(prototype.__dict__)
    instance._state = ModelState()
    return instance


def _plan_row(line: int, cleaned: dict[str, Any], lookups: _Lookups, errors: list) -> RowPlan | None:
    resolved = _resolve(cleaned, lookups, errors)
    existing = lookups.customers.get(cleaned["number"])
    if existing is not None:
        # An archive outside the user's stations is not named, deleted or not:
        # an import is no way to learn which numbers exist elsewhere.
        if existing.station_id not in lookups.allowed_station_ids:
            errors.append(("number", _("该户号不可用。")))
        elif existing.deleted_at is not None:
            errors.append(("number", _("该户号属于一份已删除的客户档案，请联系系统管理员恢复。")))
    if errors:
        return None

    customer = _new(Customer) if existing is None else existing
    original = {key: getattr(customer, _attname(key)) for key in CUSTOMER_KEYS}
    if existing is None:
        customer.number = cleaned["number"]
    for key in CUSTOMER_KEYS:
        if key in resolved and resolved[key] is not None:
            setattr(customer, key, resolved[key])
        elif key in cleaned and key not in resolved:
            setattr(customer, key, cleaned[key])
    if "district" in resolved and "line" not in resolved and customer.district_id:
        customer.line_id = customer.district.line_id
    network = customer_network_errors(
        station=customer.station,
        district=customer.district if customer.district_id else None,
        line=_line_of(customer, lookups),
        manager=customer.manager if customer.manager_id else None,
    )
    if network:
        errors.extend(network.items())
        if existing is not None:
            # Leave the shared object as it was stored for later rows with the same number.
            for key, value in original.items():
                setattr(customer, _attname(key), value)
        return None

    changed = [key for key in CUSTOMER_KEYS if getattr(customer, _attname(key)) != original[key]]
    contacts = list(lookups.contacts.get(customer.pk, [])) if existing is not None else []
    contact, contact_action = None, ""
    wanted = cleaned.get("contact")
    if wanted is not None:
        primary = next((item for item in contacts if item.is_primary), None)
        if primary is None:
            contact = _new(Contact)
            contact.customer = customer
            contact.is_primary = True
            for key, value in wanted.items():
                setattr(contact, key, value)
            contact_action = "create"
            contacts.append(contact)
        elif any(getattr(primary, key) != value for key, value in wanted.items()):
            for key, value in wanted.items():
                setattr(primary, key, value)
            contact, contact_action = primary, "update"
    customer.completeness = completeness_score(customer, contacts)
    if existing is None:
        action = "create"
    elif changed or contact_action:
        action = "update"
    else:
        action = "unchanged"
    return RowPlan(
        line=line,
        action=action,
        customer=customer,
        contact=contact,
        contact_action=contact_action,
        changed_fields=changed,
    )


def _attname(key: str) -> str:
    return f"{key}_id" if key in {"station", "district", "line", "manager"} else key


def _line_of(customer: Customer, lookups: _Lookups) -> Line | None:
    if not customer.line_id:
        return None
    if customer.district_id and customer.district.line_id == customer.line_id:
        return customer.district.line
    for line in lookups.lines.values():
        if line.pk == customer.line_id:
            return line
    return Line.objects.get(pk=customer.line_id)


def plan_import(*, content: bytes, file_format: str, user: User, progress=None) -> Plan:
    """Check every row of the file against the current data; nothing is written.

    `progress(processed, total)` is called every PROGRESS_EVERY rows.
    """
    plan = Plan()
    rows: list[tuple[int, dict[str, Any]]] = []
    first_line: dict[str, int] = {}
    limit = settings.IMPORT_MAX_ROWS
    for line, values in read_rows(content, file_format):
        if plan.total >= limit:
            # Before any row is looked up: the limit may have been lowered since the upload.
            raise _too_many_rows()
        cleaned, errors = _clean_row(values)
        number = cleaned["number"]
        if number and not errors:
            if number in first_line:
                errors.append(
                    (
                        "number",
                        _("户号与第%(line)d行重复，同一户号只能出现一次。") % {"line": first_line[number]},
                    )
                )
            else:
                first_line[number] = line
        for key, message in errors:
            plan.errors.append([line, HEADER_OF[key], message])
        if not errors:
            rows.append((line, cleaned))
        plan.total += 1
    lookups = _Lookups(rows, user)
    done = plan.total - len(rows)
    for line, cleaned in rows:
        errors: list[tuple[str, str]] = []
        row_plan = _plan_row(line, cleaned, lookups, errors)
        if row_plan is not None:
            plan.rows.append(row_plan)
        for key, message in errors:
            plan.errors.append([line, HEADER_OF.get(key, HEADER_OF["station"]), str(message)])
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, plan.total)
    plan.errors.sort(key=lambda error: error[0])
    return plan


# --- Jobs -----------------------------------------------------------------------------


def import_job_create(*, user: User, file_name: str, content: bytes) -> ImportJob:
    """Store an upload that passed `check_upload` and queue its validation after commit."""
    file_format = check_upload(content=content, file_name=file_name)
    if not stations_for(user).exists():
        raise ImportFileError(_("您没有可建立客户档案的供电所，不能导入。"))
    with transaction.atomic():
        job = ImportJob.objects.create(
            created_by=user, file_name=file_name[:255], file_format=file_format, content=content
        )
        transaction.on_commit(lambda: _enqueue("validate_import", job.pk))
    return job


def import_job_confirm(*, job: ImportJob) -> bool:
    """Queue the writing of a validated job; False when it was confirmed already (or is not ready)."""
    with transaction.atomic():
        claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.VALIDATED).update(
            status=ImportJob.Status.QUEUED, confirmed_at=timezone.now(), processed=0
        )
        if claimed:
            transaction.on_commit(lambda: _enqueue("write_import", job.pk))
    return bool(claimed)


def _enqueue(task_name: str, job_id: int) -> None:
    import logging

    from customers import tasks

    try:
        getattr(tasks, task_name).delay(job_id)
    except Exception:
        # The job stays in its waiting status; the page shows it and the user can retry later.
        logging.getLogger(__name__).exception("could not queue %s for import job %s", task_name, job_id)


def _progress_writer(job_id: int):
    def _write(processed: int, total: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(processed=processed, total=total)

    return _write


def _fail(job_id: int, message: str) -> None:
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.FAILED, failure=message, finished_at=timezone.now()
    )


def validate_job(job_id: int) -> None:
    """Check a pending job's rows and store the preview (bad rows, counts). Idempotent."""
    with translation.override(settings.LANGUAGE_CODE):
        _run_or_fail(job_id, _validate_job)


def write_job(job_id: int) -> None:
    """Write the valid rows of a confirmed job in batches, then store the summary. Idempotent.

    The rows are checked again against the data as it is now, so the summary
    may differ from the preview when archives changed in between.
    """
    with translation.override(settings.LANGUAGE_CODE):
        _run_or_fail(job_id, _write_job)


def _run_or_fail(job_id: int, step) -> None:
    try:
        step(job_id)
    except Exception:
        _fail(job_id, _("处理文件时发生错误，请稍后重试或联系系统管理员。"))
        raise


def _validate_job(job_id: int) -> None:
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.VALIDATING, processed=0
    )
    if not claimed:
        return
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    try:
        plan = plan_import(
            content=bytes(job.content),
            file_format=job.file_format,
            user=job.created_by,
            progress=_progress_writer(job_id),
        )
    except ImportFileError as exc:
        _fail(job_id, str(exc))
        return
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.VALIDATED,
        total=plan.total,
        processed=plan.total,
        created_count=plan.count("create"),
        updated_count=plan.count("update"),
        unchanged_count=plan.count("unchanged"),
        rejected_count=plan.rejected,
        errors=plan.errors,
    )


def _write_job(job_id: int) -> None:
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.IMPORTING, processed=0
    )
    if not claimed:
        return
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    try:
        plan = plan_import(content=bytes(job.content), file_format=job.file_format, user=job.created_by)
    except ImportFileError as exc:
        _fail(job_id, str(exc))
        return
    ImportJob.objects.filter(pk=job_id).update(total=plan.total, processed=plan.total - len(plan.rows))
    for batch in _chunks(plan.rows):
        write_batch(batch, user=job.created_by)
        ImportJob.objects.filter(pk=job_id).update(processed=F("processed") + len(batch))
    ImportJob.objects.filter(pk=job_id).update(
        status=ImportJob.Status.DONE,
        processed=plan.total,
        created_count=plan.count("create"),
        updated_count=plan.count("update"),
        unchanged_count=plan.count("unchanged"),
        rejected_count=plan.rejected,
        errors=plan.errors,
        finished_at=timezone.now(),
    )


# Column types that psycopg writes from the attribute as Django would prepare it.
_COPY_TYPES = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateTimeField",
    "ForeignKey",
    "IntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "TextField",
}


def _create_rows(model, objs: list) -> None:
    """Insert new objects and set their ids, as bulk_create does.

    On PostgreSQL: ids drawn from the table's sequence in one query, then the
    rows by COPY. Django's bulk_create prepares every value of every row in
    Python and so took a third of the import's writing time. The table's
    triggers fire for COPY as for INSERT (version, sync stamp, the rendered
    sync row, the contact's touch of its customer), once per statement.
    """
    connection = connections[router.db_for_write(model)]
    fields = model._meta.concrete_fields
    if connection.vendor != "postgresql" or any(f.get_internal_type() not in _COPY_TYPES for f in fields):
        model._default_manager.bulk_create(objs, batch_size=BATCH_SIZE)
        return
    if model is Customer:
        fill_name_pinyin(objs)
    meta = model._meta
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        stamped = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
        for obj, pk in zip(objs, ids, strict=True):
            obj.pk = pk
            for f in stamped:
                f.pre_save(obj, add=True)
        attnames = [f.attname for f in fields]
        columns = ", ".join(quote(f.column) for f in fields)
        # Through the wrapper, so a unique violation is Django's IntegrityError as with an INSERT.
        sql = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"
        with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
            for obj in objs:
                copy.write_row([getattr(obj, name) for name in attnames])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def _history_insert(model, objs: list, *, update: bool, user: User, date) -> None:
    """One history row per object ("+" or "~"), by `user` at `date`, as simple-history writes them.

    On PostgreSQL the rows go in with COPY, straight from the objects' attributes:
    building a historical model instance per row and compiling its INSERT took
    longer than writing the archives themselves. The history tables have no
    triggers, so nothing else sees the difference. Elsewhere simple-history's
    bulk helper writes them.
    """
    if not objs:
        return
    history = model.history.model
    connection = connections[router.db_for_write(history)]
    if connection.vendor != "postgresql":
        model.history.bulk_history_create(
            objs,
            batch_size=BATCH_SIZE,
            update=update,
            default_user=user,
            default_change_reason=None,
            default_date=date,
        )
        return
    tracked = history.tracked_fields
    quote = connection.ops.quote_name
    columns = [
        *(field.column for field in tracked),
        "history_date",
        "history_change_reason",
        "history_type",
        "history_user_id",
    ]
    history_type = "~" if update else "+"
    attnames = [field.attname for field in tracked]
    sql = f"COPY {quote(history._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
        for obj in objs:
            copy.write_row([*(getattr(obj, name) for name in attnames), date, None, history_type, user.pk])


@transaction.atomic
def write_batch(rows: list[RowPlan], *, user: User) -> None:
    """Create and update the archives (and primary contacts) of up to BATCH_SIZE planned rows."""
    now = timezone.now()
    created = [row.customer for row in rows if row.action == "create"]
    updated = [row.customer for row in rows if row.action == "update" and row.changed_fields]
    if created:
        _create_rows(Customer, created)
        _history_insert(Customer, created, update=False, user=user, date=now)
    if updated:
        for customer in updated:
            customer.updated_at = now
        fields = sorted(
            {key for row in rows if row.action == "update" for key in row.changed_fields}
            | {"completeness", "updated_at"}
        )
        Customer.all_objects.bulk_update(updated, fields, batch_size=BATCH_SIZE)
        _history_insert(Customer, updated, update=True, user=user, date=now)
    new_contacts, changed_contacts = [], []
    for row in rows:
        if row.contact_action == "create":
            row.contact.customer = row.customer
            new_contacts.append(row.contact)
        elif row.contact_action == "update":
            changed_contacts.append(row.contact)
    if new_contacts:
        _create_rows(Contact, new_contacts)
        _history_insert(Contact, new_contacts, update=False, user=user, date=now)
    if changed_contacts:
        Contact.objects.bulk_update(changed_contacts, ["name", "mobile", "landline"], batch_size=BATCH_SIZE)
        _history_insert(Contact, changed_contacts, update=True, user=user, date=now)
    contact_only = [row.customer for row in rows if row.action == "update" and not row.changed_fields]
    if contact_only:
        # The contact triggers already touched these rows; only the score may move.
        Customer.all_objects.bulk_update(contact_only, ["completeness"], batch_size=BATCH_SIZE)
