"""Reading contact files: CSV (UTF-8, UTF-8 with BOM, UTF-16, GB18030) and XLSX, streamed.

No Django here. ``open_table`` checks the whole file before anything is written (encoding,
header, phone column) and raises ``FileProblem`` with one message saying what was found and
what was expected; ``Table.rows()`` then streams (line number, cells) with flat memory.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

FIELDS = ("phone", "name", "organisation", "title", "region", "notes")

# Header names people use, English and Chinese (simplified and traditional), compared after
# folding case and dropping spaces, underscores and punctuation.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "phone": (
        "phone",
        "phonenumber",
        "phoneno",
        "mobile",
        "mobilephone",
        "mobilenumber",
        "cell",
        "cellphone",
        "tel",
        "telephone",
        "number",
        "msisdn",
        "电话",
        "手机",
        "手机号",
        "手机号码",
        "电话号码",
        "联系电话",
        "联系方式",
        "号码",
        "電話",
        "手機",
        "手機號",
        "手機號碼",
        "電話號碼",
        "聯繫電話",
        "聯絡電話",
        "聯絡方式",
        "號碼",
    ),
    "name": (
        "name",
        "fullname",
        "contact",
        "contactname",
        "姓名",
        "名字",
        "联系人",
        "聯絡人",
        "聯繫人",
    ),
    "organisation": (
        "organisation",
        "organization",
        "org",
        "company",
        "employer",
        "workplace",
        "unit",
        "单位",
        "工作单位",
        "单位名称",
        "公司",
        "机构",
        "组织",
        "單位",
        "工作單位",
        "單位名稱",
        "機構",
        "組織",
    ),
    "title": (
        "title",
        "jobtitle",
        "position",
        "job",
        "职务",
        "职位",
        "职称",
        "職務",
        "職位",
        "職稱",
    ),
    "region": (
        "region",
        "province",
        "area",
        "location",
        "city",
        "地区",
        "省份",
        "省",
        "城市",
        "所在地",
        "归属地",
        "地區",
        "歸屬地",
    ),
    "notes": (
        "notes",
        "note",
        "remark",
        "remarks",
        "comment",
        "comments",
        "备注",
        "说明",
        "備註",
        "說明",
    ),
}
_ALIAS_TO_FIELD = {alias: f for f, names in HEADER_ALIASES.items() for alias in names}
_FOLD = re.compile(r"[\s_\-.:：*＊()（）/]+")

MAX_CELL = 1000  # a cell longer than this is not a contact field; the row is rejected
_SAMPLE = 64 * 1024


def gettext_noop(message: str) -> str:
    """Marks a message for translation (makemessages finds it); translated where shown."""
    return message


class FileProblem(Exception):
    """The file as a whole cannot be imported. The message says what was found and expected.

    ``template`` and ``params`` are kept apart so the page can show the message in the
    reader's language; ``str()`` is the English text (for the CLI and logs).
    """

    def __init__(self, template: str, **params: object):
        self.template, self.params = template, {k: str(v) for k, v in params.items()}
        super().__init__(template % self.params if self.params else template)


def fold(header: object) -> str:
    return _FOLD.sub("", str(header or "")).casefold()


def parse_mapping(text: str) -> dict[str, str]:
    """ "phone=手机,name=2" → {"phone": "手机", "name": "2"} (a header name or a column number)."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in FIELDS or not value.strip():
            raise FileProblem(
                gettext_noop(
                    "Column mapping %(part)s is not understood: use FIELD=COLUMN with FIELD "
                    "one of %(fields)s and COLUMN a header or a column number."
                ),
                part=repr(part.strip()),
                fields=", ".join(FIELDS),
            )
        mapping[key] = value.strip()
    return mapping


@dataclass
class Table:
    kind: str  # "csv" or "xlsx"
    encoding: str
    columns: dict[str, int]  # field → 0-based column index
    headers: list[str]
    has_header: bool
    rows_total: int | None
    _rows: Callable[[], Iterator[tuple[int, list[str]]]] = field(repr=False)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number in the file, cells as strings) for each data row, header skipped."""
        return self._rows()


def _resolve_columns(headers: list[str], mapping: dict[str, str]) -> tuple[dict[str, int], bool]:
    """Map fields to column indexes from the header row and any explicit mapping.

    Returns (columns, has_header). Raises FileProblem when there is no phone column.
    """
    folded = [fold(h) for h in headers]
    detected: dict[str, int] = {}
    for i, name in enumerate(folded):
        f = _ALIAS_TO_FIELD.get(name)
        if f and f not in detected:
            detected[f] = i
    has_header = bool(detected) or any(not v.isdecimal() for v in mapping.values())
    for f, target in mapping.items():
        if target.isdecimal():  # what int() reads: not "²", which isdigit() allows
            index = int(target) - 1
            if index < 0 or index >= max(len(headers), 1):
                raise FileProblem(
                    gettext_noop(
                        "Column mapping %(field)s=%(column)s: the file has %(n)s columns."
                    ),
                    field=f,
                    column=target,
                    n=len(headers),
                )
            detected[f] = index
        else:
            try:
                detected[f] = folded.index(fold(target))
            except ValueError:
                raise FileProblem(
                    gettext_noop(
                        "Column mapping %(field)s=%(column)s: no such column. Found: %(found)s."
                    ),
                    field=f,
                    column=target,
                    found=", ".join(str(h) for h in headers) or "-",
                ) from None
    if "phone" not in detected:
        raise FileProblem(
            gettext_noop(
                "No phone column found. The first row has %(found)s; expected a header such as "
                "电话, 手机, 手机号码, phone or mobile, or an explicit mapping such as phone=3."
            ),
            found=", ".join(repr(str(h)) for h in headers[:12]) or "-",
        )
    return detected, has_header


# -- CSV ------------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _scan(opener: Callable[[], BinaryIO], encoding: str) -> tuple[bool, int, str]:
    """Decode the whole stream; return (ok, line count, where it failed)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    lines, offset, last = 0, 0, "\n"
    with opener() as fh:
        while chunk := fh.read(1 << 20):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line = lines + 1 + chunk[: exc.start].count(b"\n")
                return False, lines, f"byte {offset + exc.start} (line {line})"
            lines += text.count("\n")
            offset += len(chunk)
            last = text[-1:] or last
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False, lines, "the end of the file"
    return True, lines + (last != "\n"), ""


def _detect_encoding(opener: Callable[[], BinaryIO], head: bytes) -> tuple[str, int]:
    for bom, enc in _BOMS:
        if head.startswith(bom):
            ok, lines, where = _scan(opener, enc)
            if not ok:
                raise FileProblem(
                    gettext_noop(
                        "The file starts like %(encoding)s but cannot be read at %(where)s."
                    ),
                    encoding=enc,
                    where=where,
                )
            return enc, lines
    if b"\x00" in head:
        raise FileProblem(
            gettext_noop(
                "The file is not text: expected CSV (UTF-8 or GB18030) or an Excel .xlsx file."
            )
        )
    ok, lines, where_utf8 = _scan(opener, "utf-8")
    if ok:
        return "utf-8", lines
    ok, lines, where_gb = _scan(opener, "gb18030")
    if ok:
        return "gb18030", lines
    raise FileProblem(
        gettext_noop(
            "The file's encoding is not supported: it is not UTF-8 (unreadable at %(utf8)s) "
            "nor GB18030 (unreadable at %(gb)s). Save it as CSV UTF-8 and import it again."
        ),
        utf8=where_utf8,
        gb=where_gb,
    )


def _csv_reader(
    opener: Callable[[], BinaryIO], encoding: str, dialect
) -> Iterator[tuple[int, list[str]]]:
    with opener() as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        reader = csv.reader(text, dialect)
        previous = 0
        try:
            for cells in reader:
                line = previous + 1
                previous = reader.line_num
                yield line, cells
        except csv.Error as exc:  # a field over csv.field_size_limit(): 128 KiB
            raise FileProblem(
                gettext_noop(
                    "Line %(line)s cannot be read as CSV (%(error)s). A cell this long is "
                    "usually a quote that is never closed, making the rest of the file one cell."
                ),
                line=previous + 1,
                error=exc,
            ) from None


def _open_csv(opener, head: bytes, mapping) -> Table:
    encoding, lines = _detect_encoding(opener, head)
    sample = head.decode(encoding, errors="ignore").lstrip("\ufeff")
    first_line = sample.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(first_line, delimiters=",;\t|")
        # One line rarely shows a doubled quote, so the sniffer guesses False; every
        # spreadsheet writes "" for a quote inside a quoted cell.
        dialect.doublequote = True
    except csv.Error:
        dialect = csv.excel
    rows = _csv_reader(opener, encoding, dialect)
    header_line, headers = 0, []
    for line, cells in rows:
        if any(c.strip() for c in cells):
            header_line, headers = line, [c.strip().lstrip("\ufeff") for c in cells]
            break
    columns, has_header = _resolve_columns(headers, mapping)
    skip_until = header_line if has_header else header_line - 1
    for _row in rows:  # read to the end (≈ 0.4 s per million rows): a file that breaks as CSV
        pass  # is refused now, before anything is written, not half-way through the import

    def data_rows() -> Iterator[tuple[int, list[str]]]:
        for line, cells in _csv_reader(opener, encoding, dialect):
            # Not blank: some cell has more than whitespace (as any(c.strip() for c in
            # cells), without a generator for every row of the file).
            if line > skip_until and "".join(cells).strip():
                yield line, cells

    total = max(lines - (1 if has_header else 0), 0)
    return Table("csv", encoding, columns, headers, has_header, total, data_rows)


# -- XLSX -----------------------------------------------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _open_xlsx(opener, mapping) -> Table:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    with opener() as fh:
        data = io.BytesIO(fh.read())  # a zip needs random access; it stays in memory only

    def sheet_rows() -> Iterator[tuple[int, list[str]]]:
        wb = openpyxl.load_workbook(data, read_only=True, data_only=True)
        line = 0
        try:
            ws = wb.worksheets[0]
            for line, values in enumerate(ws.iter_rows(values_only=True), start=1):
                yield line, [_cell(v) for v in values]
        except Exception as exc:  # the sheet's XML breaks after the checks below passed
            raise FileProblem(
                gettext_noop("The Excel file cannot be read after row %(line)s (%(error)s)."),
                line=line,
                error=type(exc).__name__,
            ) from exc
        finally:
            wb.close()

    try:
        # Every member's checksum, at zlib's speed: a damaged or cut-off file is refused
        # before anything is written, not half-way through the sheet.
        damaged = zipfile.ZipFile(data).testzip()
        if damaged is not None:
            raise zipfile.BadZipFile(damaged)
        wb = openpyxl.load_workbook(data, read_only=True, data_only=True)
        if not wb.worksheets:
            raise FileProblem(gettext_noop("The workbook has no sheets."))
        max_row = wb.worksheets[0].max_row
        wb.close()
        header_line, headers = 0, []
        for line, cells in sheet_rows():
            if any(c.strip() for c in cells):
                header_line, headers = line, [c.strip() for c in cells]
                break
    except FileProblem:
        raise
    except (InvalidFileException, KeyError, ValueError, OSError, Exception) as exc:
        raise FileProblem(
            gettext_noop(
                "The Excel file cannot be read (%(error)s). Expected an .xlsx workbook; save it "
                "again or export it as CSV."
            ),
            error=type(exc).__name__,
        ) from exc
    columns, has_header = _resolve_columns(headers, mapping)
    skip_until = header_line if has_header else header_line - 1

    def data_rows() -> Iterator[tuple[int, list[str]]]:
        for line, cells in sheet_rows():
            if line > skip_until and any(c.strip() for c in cells):
                yield line, cells

    total = max((max_row or 0) - skip_until, 0) if max_row else None
    return Table("xlsx", "xlsx", columns, headers, has_header, total, data_rows)


def open_table(opener: Callable[[], BinaryIO], mapping: dict[str, str] | None = None) -> Table:
    """Check a file and get ready to stream it. ``opener`` returns a new binary stream each call."""
    mapping = mapping or {}
    try:
        with opener() as fh:
            head = fh.read(_SAMPLE)
    except OSError as exc:
        raise FileProblem(
            gettext_noop("The file cannot be opened: %(error)s."), error=exc.strerror or exc
        ) from exc
    if not head.strip():
        raise FileProblem(gettext_noop("The file is empty: expected a header row and contacts."))
    if head.startswith(b"PK\x03\x04"):
        return _open_xlsx(opener, mapping)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(
            gettext_noop(
                "This is an old Excel .xls file: save it as .xlsx or CSV and import again."
            )
        )
    if head.startswith(b"%PDF"):
        raise FileProblem(gettext_noop("This is a PDF: expected CSV or an Excel .xlsx file."))
    return _open_csv(opener, head, mapping)
