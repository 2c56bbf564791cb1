"""The upload check of an import file bounded by work, against what opening the sheet cost before.

    python bench/import_bounds.py [--rows 300000] [--limit 100000]

Writes an .xlsx of N data rows without `<dimension>` (as some exporters write
them), then, each in a fresh process so that peak memory is its own:
- baseline: what the upload did before, openpyxl's read-only `load_workbook` and
  the header row (openpyxl parses the whole sheet looking for the dimension);
- bounded: `customers.imports.check_upload` with IMPORT_MAX_ROWS = limit, which
  streams the rows and stops one past the limit (the file is refused);
- within: the same check of a file of `limit` rows (the largest file taken).
Prints seconds and peak RSS (MB) of each, the ratios, and the load average.
"""

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import record  # noqa: E402

_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="档案" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
    ),
}


def _cell(column: str, row: int, text: str) -> str:
    return f'<c r="{column}{row}" t="inlineStr"><is><t>{text}</t></is></c>'


def write_file(rows: int, path: Path) -> None:
    """An archive file of `rows` rows (number, name, station filled), with no <dimension>."""
    from customers.imports import HEADERS

    columns = [chr(ord("A") + index) for index in range(len(HEADERS))]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in _PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8"?>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            )
            header = "".join(_cell(column, 1, title) for column, title in zip(columns, HEADERS, strict=True))
            sheet.write(f'<row r="1">{header}</row>'.encode())
            buffer = io.StringIO()
            for line in range(2, rows + 2):
                cells = _cell("A", line, f"{6000000000 + line}") + _cell("B", line, f"客户{line}")
                buffer.write(f'<row r="{line}">{cells}{_cell("C", line, "LS01")}</row>')
                if line % 10_000 == 0:
                    sheet.write(buffer.getvalue().encode())
                    buffer = io.StringIO()
            sheet.write(buffer.getvalue().encode())
            sheet.write(b"</sheetData></worksheet>")


def measure(which: str, path: str, limit: int) -> dict:
    """Run in a fresh process: seconds and peak RSS of one way of checking the file."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    os.environ["IMPORT_MAX_ROWS"] = str(limit)
    import django

    django.setup()
    content = Path(path).read_bytes()
    started = time.perf_counter()
    outcome = "taken"
    if which == "baseline":
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        next(workbook.worksheets[0].iter_rows(values_only=True))
        workbook.close()
    else:
        from customers.imports import ImportFileError, check_upload

        try:
            check_upload(content=content, file_name="archive.xlsx")
        except ImportFileError:
            outcome = "refused"
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mb": peak_mb, "outcome": outcome}


def in_fresh_process(which: str, path: Path, limit: int) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--measure", which, str(path), "--limit", str(limit)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--limit", type=int, default=100_000)
    parser.add_argument("--measure", nargs=2, metavar=("WHICH", "PATH"))
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], args.measure[1], args.limit)))
        return

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()
    workdir = ROOT / "var" / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    big, within = workdir / "import-over.xlsx", workdir / "import-within.xlsx"
    write_file(args.rows, big)
    write_file(args.limit, within)
    load_before = os.getloadavg()
    baseline = in_fresh_process("baseline", big, args.limit)
    bounded = in_fresh_process("bounded", big, args.limit)
    taken = in_fresh_process("bounded", within, args.limit)
    load_after = os.getloadavg()
    assert bounded["outcome"] == "refused" and taken["outcome"] == "taken", (bounded, taken)
    record(
        "import_bounds",
        {
            "file_mb": big.stat().st_size / 1e6,
            "baseline_seconds": baseline["seconds"],
            "baseline_peak_rss_mb": baseline["peak_mb"],
            "refused_seconds": bounded["seconds"],
            "refused_peak_rss_mb": bounded["peak_mb"],
            "refused_vs_baseline": bounded["seconds"] / baseline["seconds"],
            "limit_file_seconds": taken["seconds"],
            "limit_file_peak_rss_mb": taken["peak_mb"],
            "load_average": " / ".join(
                " ".join(f"{value:.2f}" for value in load) for load in (load_before, load_after)
            ),
        },
        scale={"rows": args.rows, "limit": args.limit},
    )


if __name__ == "__main__":
    main()
