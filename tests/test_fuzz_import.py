"""The import parser fuzzed with hypothesis: any file either imports its rows or rejects them
with a line and a reason, or is refused as a whole with the one documented error
(`FileProblem`); nothing else ever comes out (issue 6, item 7; docs/reliability.md).

The default suite runs few examples of each property; the `slow` twins run many more.
The first properties exercise reader + pipeline (what an import does short of the
database); the last goes end to end through `contacts_import_file` on the database.
"""

from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phonebank.contacts import pipeline, reader
from phonebank.contacts.models import ImportReject, ImportStatus
from phonebank.contacts.services import contacts_import_file
from phonebank.lib.crypto import Keyring

FEW, MANY = 40, 1500
KEYRING = Keyring.generate()
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "gb18030")


def _read(data: bytes, mapping: dict[str, str] | None = None):
    """Everything an import does with a file short of the database: check it, stream its
    rows, parse each one. None when the file is refused; else [(line, Record | Reject)]."""
    try:
        table = reader.open_table(lambda: io.BytesIO(data), mapping)
    except reader.FileProblem as exc:
        assert str(exc) and exc.template  # a message for the person, in their language
        return None
    out = []
    try:
        for line, cells in table.rows():
            assert isinstance(line, int) and line >= 1 and all(isinstance(c, str) for c in cells)
            out.append((line, pipeline.parse_row(KEYRING, line, cells, table.columns, "CN")))
    except reader.FileProblem:
        # Only an XLSX whose XML breaks part-way gets here (the import then fails cleanly).
        assert table.kind == "xlsx"
        return None
    lines = [line for line, _r in out]
    assert lines == sorted(set(lines)), "lines go forward, one row each"
    for line, result in out:
        assert isinstance(result, pipeline.Record | pipeline.Reject)
        assert result.line == line
        if isinstance(result, pipeline.Reject):
            assert result.reason
    return out


# -- strategies -----------------------------------------------------------------------------

HEADER_WORDS = sorted({a for names in reader.HEADER_ALIASES.values() for a in names})
mobiles = st.builds(
    lambda prefix, n: f"{prefix}{n:08d}",
    st.sampled_from(["130", "139", "150", "158", "186", "189"]),
    st.integers(0, 10**8 - 1),
)
written_phones = st.one_of(
    mobiles,
    mobiles.map(lambda m: f"+86 {m[:3]} {m[3:7]} {m[7:]}"),
    mobiles.map(lambda m: f"{m[:3]}-{m[3:7]}-{m[7:]}"),
    mobiles.map(lambda m: f"{m}.0"),
)
cells = st.one_of(
    written_phones,
    st.text(max_size=30),
    st.text(alphabet="0123456789+-() ", max_size=20),
    st.sampled_from(["", " ", '"', '""', "=1+2", "\x00", "\r", "\n", ",", ";", "\t", "|"]),
    st.integers(900, 140_000).map(lambda n: "长" * n),  # over MAX_CELL, over csv's limit
)
headers = st.lists(
    st.one_of(st.sampled_from(HEADER_WORDS), st.text(max_size=12)), min_size=1, max_size=6
)
mappings = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"phone": st.one_of(st.sampled_from(["1", "2", "3", "7", "手机"]), st.text(max_size=5))}
    ),
)


@st.composite
def csv_files(draw) -> bytes:
    """CSV as people send it: any header, rows of any width, any delimiter, quoting, line
    ending and encoding; now and then a stray byte or a cut-off end."""
    out = io.StringIO()
    writer = csv.writer(
        out,
        delimiter=draw(st.sampled_from([",", ";", "\t", "|"])),
        lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])),
        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])),
    )
    writer.writerow(draw(headers))
    for row in draw(st.lists(st.lists(cells, max_size=7), max_size=25)):
        writer.writerow(row)
    data = out.getvalue().encode(draw(st.sampled_from(ENCODINGS)))
    damage = draw(st.sampled_from(["none", "none", "byte", "cut"]))
    if damage == "byte" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    elif damage == "cut" and data:
        data = data[: draw(st.integers(0, len(data)))]
    return data


def _xlsx(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# Made once: openpyxl stamps the time into every file it saves, and hypothesis wants the
# same draws to give the same bytes.
WORKBOOK = _xlsx([["手机", "姓名"]] + [[f"139{i * 7919:08d}", f"名{i}"] for i in range(1000)])


@st.composite
def damaged_workbooks(draw) -> bytes:
    """A real workbook, with bytes flipped and/or its end cut off."""
    data = bytearray(WORKBOOK)
    for _ in range(draw(st.integers(0, 3))):
        data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    return bytes(data[: draw(st.integers(len(data) // 2, len(data)))])


# -- properties -----------------------------------------------------------------------------


def _any_bytes(data: bytes) -> None:
    _read(data)


def _any_csv(data: bytes, mapping) -> None:
    _read(data, mapping)


def _valid_numbers_round_trip(numbers: list[str], names: list[str], encoding: str, ending: str):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=ending)
    writer.writerow(["手机", "姓名"])
    writer.writerows(zip(numbers, names, strict=False))
    result = _read(out.getvalue().encode(encoding))
    assert result is not None
    assert [line for line, _r in result] == list(range(2, len(numbers) + 2))
    for (_line, record), number in zip(result, numbers, strict=True):
        assert isinstance(record, pipeline.Record)
        assert KEYRING.decrypt(record.phone, "contact.phone") == f"+86{number}"


@settings(max_examples=FEW, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_import_or_are_refused_with_the_documented_error(data):
    _any_bytes(data)


@settings(max_examples=FEW, deadline=None)
@given(csv_files(), mappings)
def test_any_csv_text_imports_rows_or_rejects_them_with_a_line_and_reason(data, mapping):
    _any_csv(data, mapping)


@settings(max_examples=FEW, deadline=None)
@given(
    st.lists(mobiles, max_size=20),
    # Any name a file can hold: lone surrogates (category Cs) have no encoding at all.
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=["Cs"]),
            max_size=10,
        )
    ),
    st.sampled_from(ENCODINGS),
    st.sampled_from(["\n", "\r\n"]),
)
def test_valid_numbers_in_any_encoding_all_import_with_their_lines(numbers, names, encoding, end):
    _valid_numbers_round_trip(numbers, names + [""] * len(numbers), encoding, end)


@settings(max_examples=10, deadline=None)
@given(damaged_workbooks())
def test_a_damaged_workbook_imports_or_is_refused_with_the_documented_error(data):
    _read(data)


@pytest.mark.slow
@settings(max_examples=MANY, deadline=None)
@given(st.binary(max_size=5000))
def test_many_arbitrary_byte_files(data):
    _any_bytes(data)


@pytest.mark.slow
@settings(max_examples=MANY, deadline=None)
@given(csv_files(), mappings)
def test_many_arbitrary_csv_files(data, mapping):
    _any_csv(data, mapping)


@pytest.mark.slow
@settings(max_examples=MANY // 5, deadline=None)
@given(damaged_workbooks())
def test_many_damaged_workbooks(data):
    _read(data)


# -- the ways files broke the import before, found by these fuzzers -------------------------


def test_a_column_mapping_to_a_superscript_digit_is_a_file_problem():
    """ "²".isdigit() is true, but int("²") raises: it was taken for a column number."""
    assert _read(b"phone,name\n13800138000,x\n", {"phone": "²"}) is None


def test_an_unclosed_quote_over_128_kib_is_refused_before_anything_is_written(tmp_path, campaign):
    path = tmp_path / "open-quote.csv"
    path.write_bytes(b'phone,name\n13800138000,"Zhang\n' + b"x" * 200_000 + b"\n13900139000,Li\n")
    with pytest.raises(reader.FileProblem, match="Line 2 cannot be read as CSV"):
        contacts_import_file(path=path, campaign=campaign, actor=None)
    assert not campaign.targets.exists()


def test_a_workbook_damaged_after_its_header_is_refused_before_anything_is_written(
    tmp_path, campaign
):
    data = bytearray(_xlsx([["手机"]] + [[f"139{i:08d}"] for i in range(3000)]))
    sheet = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("xl/worksheets/sheet1.xml")
    data[sheet.header_offset + 100 + sheet.compress_size * 3 // 4] ^= 0xFF
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(bytes(data))
    with pytest.raises(reader.FileProblem, match="Excel file cannot be read"):
        contacts_import_file(path=path, campaign=campaign, actor=None)
    assert not campaign.targets.exists()


def test_a_workbook_whose_xml_breaks_part_way_fails_its_job_and_keeps_what_was_read(
    tmp_path, campaign
):
    """Checksums intact, XML cut short: found only while streaming. The job fails with a
    message (before, it raised and a background job was resumed into the same error
    forever); the rows before the break stay imported."""
    good = _xlsx([["手机"]] + [[f"139{i:08d}"] for i in range(3000)])
    source, out = zipfile.ZipFile(io.BytesIO(good)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as broken:
        for item in source.infolist():
            body = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = body[: len(body) * 2 // 3]
            broken.writestr(item, body)
    path = tmp_path / "cut.xlsx"
    path.write_bytes(out.getvalue())
    job = contacts_import_file(path=path, campaign=campaign, actor=None)
    assert job.status == ImportStatus.FAILED
    assert "cannot be read after row" in job.error
    assert 1000 <= job.imported < 3000 and job.imported == campaign.targets.count()


# -- end to end, on the database ------------------------------------------------------------


@pytest.mark.django_db
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.one_of(csv_files(), st.binary(max_size=500)))
def test_an_import_accounts_for_every_row_or_writes_nothing(tmp_path, campaign, data):
    path = tmp_path / "fuzzed.csv"
    path.write_bytes(data)
    before = campaign.targets.count()
    try:
        job = contacts_import_file(path=path, campaign=campaign, actor=None)
    except reader.FileProblem:
        assert campaign.targets.count() == before
        return
    rows = _read(data)
    assert job.status == ImportStatus.FINISHED
    assert job.imported + job.duplicates + job.rejected + job.skipped_dnc == len(rows)
    rejects = ImportReject.objects.filter(job=job)
    assert rejects.count() == job.rejected
    lines = {line for line, _r in rows}
    assert all(r.line in lines and r.reason for r in rejects)
