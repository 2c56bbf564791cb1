"""The import's sheet reader gives the cell texts openpyxl's read-only iter_rows gives, faster."""

import datetime
import io
import zipfile

import pytest
from openpyxl import Workbook

from customers import imports


def openpyxl_rows(content: bytes) -> list[list[str]]:
    sheet, archive = imports._first_sheet(content)
    try:
        return [[imports._cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        archive.close()


def reader_rows(content: bytes) -> list[list[str]]:
    return list(imports._raw_rows(content, "xlsx"))


def saved(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def varied_workbook(write_only: bool) -> bytes:
    workbook = Workbook(write_only=write_only)
    sheet = workbook.create_sheet() if write_only else workbook.active
    rows = [
        list(imports.HEADERS),
        ["5201000001", "  空格  ", 5201000002, 3.0, 2.5, 1e15, True, False, None, "=1+1"],
        [],
        [datetime.date(2024, 3, 1), datetime.datetime(2024, 3, 1, 8, 30), datetime.time(7, 15), "#N/A", 0],
        [None, None, "后面的格", None],
    ]
    for row in rows:
        sheet.append(row)
    if not write_only:
        sheet.cell(row=9, column=3, value="跳过几行以后")
        sheet.cell(row=9, column=30, value="远处的列")
    return saved(workbook)


@pytest.mark.parametrize("write_only", [False, True])
def test_values_gaps_and_dates_read_as_openpyxl_reads_them(write_only):
    content = varied_workbook(write_only)
    assert reader_rows(content) == openpyxl_rows(content)


def _with_sheet_xml(content: bytes, replace) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = replace(data.decode()).encode()
            target.writestr(item, data)
    return buffer.getvalue()


def test_inline_rich_text_rows_without_numbers_and_cells_without_coordinates():
    content = varied_workbook(False)

    def rewrite(xml: str) -> str:
        # Inline strings with runs and a phonetic hint, a row without its number, cells without
        # their coordinates, a row out of order.
        extra = (
            '<row><c t="inlineStr"><is><r><t>富</t></r><r><t>文本</t></r>'
            '<rPh sb="0" eb="1"><t>fu</t></rPh></is></c>'
            '<c t="inlineStr"><is><t xml:space="preserve"> 内联 </t></is></c><c t="inlineStr"/>'
            '<c t="b"><v>1</v></c><c t="e"><v>#REF!</v></c><c t="str"><v>公式文本</v></c></row>'
            '<row r="5"><c r="A5"><v>1</v></c></row>'
        )
        return xml.replace("</sheetData>", extra + "</sheetData>")

    content = _with_sheet_xml(content, rewrite)
    assert reader_rows(content) == openpyxl_rows(content)
    assert ["富文本", "内联", "", "True", "#REF!", "公式文本"] in reader_rows(content)


def test_a_bad_coordinate_is_a_damaged_file():
    content = _with_sheet_xml(varied_workbook(False), lambda xml: xml.replace('r="A2"', 'r="2A"', 1))
    with pytest.raises(imports.ImportFileError, match="已损坏"):
        reader_rows(content)


@pytest.mark.parametrize("model", ["Customer", "Contact"])
def test_a_new_archive_row_starts_as_the_model_builds_it(model):
    from django.db.models import NOT_PROVIDED

    from customers import models

    cls = getattr(models, model)
    built, copied = cls(), imports._new(cls)
    state = lambda obj: {k: v for k, v in obj.__dict__.items() if k != "_state"}  # noqa: E731
    assert state(copied) == state(built)
    assert copied._state.adding and copied._state.db is None and copied._state.fields_cache == {}
    assert copied._state is not imports._new(cls)._state
    # Copying is right only while every default is a constant.
    for field in cls._meta.concrete_fields:
        assert field.default is NOT_PROVIDED or not callable(field.default), field.name
        assert not isinstance(field.default, dict | list | set), field.name
