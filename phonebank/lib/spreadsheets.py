"""Spreadsheet files written as streams: CSV (UTF-8 with a byte order mark, so Excel reads
Chinese right) and XLSX (openpyxl's write-only worksheets), both safe against formula
injection. Memory stays flat whatever the number of rows, and nothing is written to disk
but the stream given: openpyxl's write-only mode on its own spools each sheet to a
plaintext temporary file, so here each sheet is written straight into its member of the
zip archive instead (docs/decisions.md).
"""

from __future__ import annotations

import csv
import functools
import io
import zipfile
from collections.abc import Iterable, Sequence

BOM = b"\xef\xbb\xbf"
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")  # OWASP: what a spreadsheet may run as a formula
SHEET_ROWS = 1_048_575  # Excel's 1,048,576 rows per sheet, less the header row
SHEET_BYTES = 1_800_000_000  # a zip member stays under 2 GiB, so no ZIP64 local headers
CELL_CHARS = 32_767  # Excel's limit on the text of one cell


def defuse(cell: str) -> str:
    """A cell a spreadsheet would run as a formula (= + - @ tab CR first), made text by a
    leading apostrophe (OWASP's advice). "+86 138****5678" becomes "'+86 138****5678"."""
    return "'" + cell if cell[:1] in DANGEROUS else cell


def _cells(row: Iterable) -> list:
    return [defuse(v) if isinstance(v, str) else v for v in row]


class CsvWriter:
    """Rows to a binary stream as CSV, UTF-8 with a byte order mark."""

    def __init__(self, out, header: Sequence[str], title: str = ""):
        self._out = out
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, lineterminator="\r\n")
        out.write(BOM)
        self.writerows([header])

    def writerows(self, rows: Iterable[Sequence]) -> None:
        self._csv.writerows(_cells(r) for r in rows)
        self._out.write(self._buf.getvalue().encode("utf-8"))
        self._buf.seek(0)
        self._buf.truncate()

    def close(self) -> None:
        """Nothing is held back: each writerows() reaches the stream."""


class _Counting:
    """A zip member that counts what is written to it."""

    def __init__(self, member):
        self.member, self.written = member, 0

    def write(self, data) -> int:
        self.written += len(data)
        return self.member.write(data)

    def flush(self) -> None:
        self.member.flush()


@functools.cache
def _streamed_excel_writer():
    """openpyxl's package writer, for sheets already streamed into the archive. (openpyxl
    is imported on first use: web processes that never write a workbook do without it.)"""
    from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
    from openpyxl.writer.excel import ExcelWriter

    class StreamedExcelWriter(ExcelWriter):
        def write_worksheet(self, ws):
            ws._drawing = SpreadsheetDrawing()
            ws._rels = ws._writer._rels
            self.manifest.append(ws)

    return StreamedExcelWriter


class XlsxWriter:
    """Rows to a binary stream (seekable or not) as an .xlsx workbook. A new sheet, with the
    header again, starts every SHEET_ROWS rows (and before a sheet's XML would reach
    SHEET_BYTES)."""

    def __init__(self, out, header: Sequence[str], title: str = "Sheet"):
        from openpyxl import Workbook
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        self._illegal = ILLEGAL_CHARACTERS_RE
        self._zip = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self._book = Workbook(write_only=True)
        self._header, self._title = list(header), title[:25]
        self._sheet = self._member = None
        self._rows = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        from openpyxl.worksheet._writer import WorksheetWriter

        self._end_sheet()
        n = len(self._book.worksheets) + 1
        ws = self._book.create_sheet(self._title if n == 1 else f"{self._title} {n}")
        # The sheet's XML goes straight into its zip member, in order (zipfile allows one
        # member open for writing at a time; sheets are written one after the other).
        self._member = _Counting(self._zip.open(f"xl/worksheets/sheet{n}.xml", "w"))
        ws._writer = WorksheetWriter(ws, out=self._member)
        ws._writer.write_top()
        self._sheet, self._rows = ws, 0
        ws.append(_cells(self._header))

    def _end_sheet(self) -> None:
        if self._sheet is not None:
            self._sheet.close()
            self._member.member.close()

    def _value(self, v):
        if isinstance(v, str):
            if len(v) > CELL_CHARS:
                v = v[:CELL_CHARS]
            return defuse(self._illegal.sub("", v))
        return v

    def writerows(self, rows: Iterable[Sequence]) -> None:
        value = self._value
        for row in rows:
            if self._rows >= SHEET_ROWS or self._member.written >= SHEET_BYTES:
                self._new_sheet()
            self._sheet.append([value(v) for v in row])
            self._rows += 1

    def close(self) -> None:
        """Finish the last sheet and write the workbook's other parts and the zip directory
        (the stream itself stays open)."""
        self._end_sheet()
        _streamed_excel_writer()(self._book, self._zip).save()
