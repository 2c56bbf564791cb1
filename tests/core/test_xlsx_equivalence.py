"""core.xlsx writes the package itself: a workbook reads back exactly as the one
openpyxl's write-only mode wrote from the same sheets (the reference below is
the writer core.xlsx used before), cell by cell: value, type, number format,
bold, quote prefix; sheet titles and order; column widths."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from core.xlsx import DATETIME_FORMAT, TEXT_FORMAT, Sheet, clean_text, looks_like_formula, workbook_bytes


def _reference_cell(sheet, value, *, text_format=False, bold=False):
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
        cell.data_type = "s"
        cell.quotePrefix = True
    if number_format:
        cell.number_format = number_format
    if bold:
        cell.font = Font(bold=True)
    return cell


def _reference(sheets: list[Sheet]) -> bytes:
    workbook = Workbook(write_only=True)
    for spec in sheets:
        sheet = workbook.create_sheet(clean_text(spec.title))
        if spec.column_width is not None:
            for column in range(1, len(spec.header) + 1):
                sheet.column_dimensions[get_column_letter(column)].width = spec.column_width
        sheet.append([_reference_cell(sheet, value, bold=True) for value in spec.header])
        for row in spec.rows:
            sheet.append([_reference_cell(sheet, value, text_format=spec.text_format) for value in row])
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _cells(content: bytes) -> dict:
    book = load_workbook(BytesIO(content))
    read = {"titles": book.sheetnames}
    for sheet in book.worksheets:
        read[sheet.title, "widths"] = {
            key: dimension.width
            for key, dimension in sheet.column_dimensions.items()
            if dimension.customWidth
        }
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is None and not cell.has_style:
                    continue
                read[sheet.title, cell.coordinate] = (
                    cell.value,
                    cell.data_type,
                    cell.number_format,
                    bool(cell.font.b),
                    bool(cell.quotePrefix),
                )
    return read


SHANGHAI = ZoneInfo("Asia/Shanghai")
VALUES = [
    "雷山县永乐酒店",
    "",
    " 前后有空格 ",
    "   ",
    "a<b>&\"c'",
    "第一行\n第二行\t完",
    "a\u0001b\u007f",
    "=SUM(A1)",
    " =1",
    "-",
    "+86 135",
    "@x",
    "\t=1",
    "1+1",
    "长" * 33000,
    gettext_lazy("待核实"),
    0,
    -2,
    3.25,
    1e20,
    1 / 3,
    Decimal("12.50"),
    True,
    False,
    None,
    datetime(2026, 11, 22, 4, 30, tzinfo=ZoneInfo("UTC")),
    datetime(2026, 11, 22, 12, 30, 15, tzinfo=SHANGHAI),
    datetime(2026, 1, 2, 3, 4),
    date(2026, 11, 22),
    time(8, 30),
    timedelta(hours=30, minutes=5),
]


def _sheets(rows):
    return [
        Sheet("客户档案", [gettext_lazy("户号"), "=名称", "  ", None, "日期"], rows),
        Sheet(
            "导入模板",
            ["户号", "名称", "备注"],
            [["0521", "-", ""], VALUES[:6]],
            column_width=16,
            text_format=True,
        ),
        Sheet("文本格式", ["值"], [[value] for value in VALUES], text_format=True),
        Sheet("空表", ["说明"], []),
        Sheet("说明\u0000", [], [[1, 2]]),
    ]


def test_every_kind_of_value_reads_back_as_openpyxl_wrote_it():
    rows = [VALUES, VALUES[::-1], [], [None, None, "后"], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]]
    reference = _cells(_reference(_sheets(rows)))
    written = _cells(workbook_bytes(_sheets(rows)))
    assert written["titles"] == reference["titles"]
    assert written.keys() == reference.keys()
    for key, value in reference.items():
        assert written[key] == value, key


def test_a_customer_list_sized_sheet_reads_back_the_same():
    rows = [
        [
            f"90005{n:05d}",
            f"客户{n}",
            "居民",
            "城镇",
            "220V",
            f"永乐路{n}号",
            "=x" if n % 97 == 0 else "",
            n % 100,
            datetime(2026, 1, 1, tzinfo=SHANGHAI) + timedelta(minutes=n) if n % 3 else None,
        ]
        for n in range(3000)
    ]
    assert _cells(workbook_bytes(_sheets(rows))) == _cells(_reference(_sheets(rows)))


def test_texts_repeated_down_a_column_read_back_the_same_every_time():
    # A column's repeated texts are written from what was written the first
    # time: a formula, blanks, a cut or a control character must not leak
    # from one row into another.
    dirty = [f"{value}\u0001" if isinstance(value, str) else value for value in VALUES]
    rows = [
        *([[*VALUES, "=1", "站"]] * 3),
        [*dirty, "\u0001=1", "站\u0002"],
        [*VALUES, "=1", "站"],
        [*VALUES[::-1], "站", "=1"],
    ]
    reference = _cells(_reference(_sheets(rows)))
    assert _cells(workbook_bytes(_sheets(rows))) == reference
