"""Importing contact files: messy encodings and formats, duplicates, rejects, whole-file problems."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phonebank.calling.models import Target, TargetStatus
from phonebank.contacts import selectors, services
from phonebank.contacts.models import Contact, ImportJob, ImportReject, ImportStatus
from phonebank.contacts.reader import FileProblem
from phonebank.lib.fields import keyring


def _write(tmp_path: Path, content: str | bytes, name: str = "list.csv", encoding="utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def _import(tmp_path, campaign, content, name="list.csv", encoding="utf-8", **options):
    path = _write(tmp_path, content, name, encoding)
    return services.contacts_import_file(path=path, campaign=campaign, actor=None, **options)


def _xlsx(tmp_path: Path, rows: list[list], name: str = "list.xlsx") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    path = tmp_path / name
    wb.save(path)
    return path


def _contacts(campaign) -> dict[str, Contact]:
    """The campaign's contacts by E.164 number (decrypted through the model field)."""
    return {
        t.contact.phone: t.contact
        for t in Target.objects.filter(campaign=campaign).select_related("contact")
    }


def _rejects(job) -> list[tuple[int, str]]:
    return [(r.line, r.reason) for r in ImportReject.objects.filter(job=job).order_by("line")]


def _counts(job) -> tuple[int, int, int, int]:
    return (job.imported, job.duplicates, job.rejected, job.skipped_dnc)


# -- encodings and formats ------------------------------------------------------------------


def test_a_utf8_file_imports_every_field_sealed_and_enriched(tmp_path, campaign):
    job = _import(
        tmp_path,
        campaign,
        "phone,name,organisation,title,notes\n"
        "13800138000,Zhang San,Bank of China,Manager,met in 2019\n"
        "0755 8888 1234,李四,深圳市政府,处长,\n",
    )
    assert job.status == ImportStatus.FINISHED
    assert job.encoding == "utf-8"
    assert _counts(job) == (2, 0, 0, 0)
    contacts = _contacts(campaign)
    beijing, shenzhen = contacts["+8613800138000"], contacts["+8675588881234"]
    assert (beijing.name, beijing.organisation, beijing.title, beijing.notes) == (
        "Zhang San",
        "Bank of China",
        "Manager",
        "met in 2019",
    )
    assert (beijing.country, beijing.province, beijing.timezone) == ("CN", "BJ", "Asia/Shanghai")
    assert (shenzhen.name, shenzhen.organisation, shenzhen.title, shenzhen.notes) == (
        "李四",
        "深圳市政府",
        "处长",
        "",
    )
    assert (shenzhen.province, shenzhen.city_zh, shenzhen.city_en, shenzhen.timezone) == (
        "GD",
        "深圳市",
        "Shenzhen",
        "Asia/Shanghai",
    )
    assert beijing.blind_index == keyring().blind_index("+8613800138000")
    assert set(Target.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        TargetStatus.OPEN
    }


def test_many_ways_of_writing_a_number_land_as_one_e164_contact(tmp_path, campaign):
    job = _import(
        tmp_path,
        campaign,
        "手机\n"
        "13800138000\n"
        "138 0013 8000\n"
        "+86 138-0013-8000\n"
        "0086 13800138000\n"
        "１３８００１３８０００\n"
        "13800138000.0\n"
        '"(010) 6234 5678"\n'
        "+1 650 253 0000\n",
    )
    assert _counts(job) == (3, 5, 0, 0)
    assert set(_contacts(campaign)) == {"+8613800138000", "+861062345678", "+16502530000"}
    assert _contacts(campaign)["+16502530000"].timezone == "America/Los_Angeles"


def test_a_utf8_file_with_a_bom_finds_its_first_header(tmp_path, campaign):
    job = _import(tmp_path, campaign, "手机号码,姓名\n13800138000,王五\n", encoding="utf-8-sig")
    assert job.encoding == "utf-8-sig"
    assert _counts(job) == (1, 0, 0, 0)
    assert _contacts(campaign)["+8613800138000"].name == "王五"


def test_a_gb18030_file_with_chinese_headers(tmp_path, campaign):
    job = _import(
        tmp_path,
        campaign,
        "电话,姓名,单位,职务,地区\n"
        "13800138000,赵六,北京市公安局,科长,北京\n"
        "020 8888 1234,钱七,广州市教育局,主任,广东\n"
        "13090280000,孙八,,,广东省\n",
        encoding="gb18030",
    )
    assert job.encoding == "gb18030"
    assert _counts(job) == (3, 0, 0, 0)
    contacts = _contacts(campaign)
    zhao = contacts["+8613800138000"]
    assert (zhao.name, zhao.organisation, zhao.title, zhao.province) == (
        "赵六",
        "北京市公安局",
        "科长",
        "BJ",
    )
    qian = contacts["+862088881234"]
    assert (qian.name, qian.province, qian.city_zh, qian.city_en) == (
        "钱七",
        "GD",
        "广州市",
        "Guangzhou",
    )
    assert contacts["+8613090280000"].name == "孙八"


def test_the_region_column_fills_the_province_only_where_the_number_does_not_say(
    tmp_path, campaign
):
    # 130 9028 has no geocoding data; 138 0013 is Beijing whatever the file claims.
    _import(
        tmp_path,
        campaign,
        "电话,地区\n13090280000,广东\n13090650000,Sichuan\n13800138000,广东\n13344040000,火星\n",
    )
    contacts = _contacts(campaign)
    assert contacts["+8613090280000"].province == "GD"
    assert contacts["+8613090650000"].province == "SC"
    assert contacts["+8613800138000"].province == "BJ"
    assert contacts["+8613344040000"].province == ""
    assert contacts["+8613344040000"].timezone == "Asia/Shanghai"


def test_a_utf16_tab_separated_file_as_excel_saves_unicode_text(tmp_path, campaign):
    job = _import(
        tmp_path,
        campaign,
        "姓名\t手机\r\n周九\t13800138000\r\n吴十\t13900139000\r\n",
        encoding="utf-16",
    )
    assert job.encoding == "utf-16"
    assert _counts(job) == (2, 0, 0, 0)
    assert _contacts(campaign)["+8613900139000"].name == "吴十"


def test_a_semicolon_separated_file(tmp_path, campaign):
    job = _import(
        tmp_path,
        campaign,
        "Name;Mobile;Company\nChen, Li;13800138000;ACME, Ltd\nWang;+86 139 0013 9000;\n",
    )
    assert _counts(job) == (2, 0, 0, 0)
    chen = _contacts(campaign)["+8613800138000"]
    assert (chen.name, chen.organisation) == ("Chen, Li", "ACME, Ltd")


def test_a_quote_inside_a_quoted_cell_is_written_twice_as_spreadsheets_do(tmp_path, campaign):
    job = _import(
        tmp_path,
        campaign,
        'phone,organisation,notes\n13800138000,"北京""某某""公司","said ""call later"", twice"\n',
    )
    assert _counts(job) == (1, 0, 0, 0)
    contact = _contacts(campaign)["+8613800138000"]
    assert (contact.organisation, contact.notes) == ('北京"某某"公司', 'said "call later", twice')


def test_an_xlsx_file_with_numbers_stored_as_numbers(tmp_path, campaign):
    path = _xlsx(
        tmp_path,
        [
            ["手机", "姓名", "单位"],
            [13800138000, "郑一", "单位甲"],
            [13900139000.0, "王二", None],
            ["0755 8888 1234", "冯三", "单位乙"],
            [13800138000, "again", None],
            ["not a number", "陈四", None],
        ],
    )
    job = services.contacts_import_file(path=path, campaign=campaign, actor=None)
    assert job.encoding == "xlsx"
    assert _counts(job) == (3, 1, 1, 0)
    assert _rejects(job) == [(6, "not a phone number")]
    contacts = _contacts(campaign)
    assert set(contacts) == {"+8613800138000", "+8613900139000", "+8675588881234"}
    assert contacts["+8613800138000"].name == "郑一"
    assert contacts["+8675588881234"].province == "GD"


def test_an_xlsx_file_with_a_title_row_above_the_header_counts_lines_as_excel_does(
    tmp_path, campaign
):
    path = _xlsx(
        tmp_path,
        [
            [None, None],
            ["电话", "姓名"],
            [13800138000, "a"],
            [None, None],
            [12345, "b"],
        ],
    )
    job = services.contacts_import_file(path=path, campaign=campaign, actor=None)
    assert _counts(job) == (1, 0, 1, 0)
    assert _rejects(job) == [(5, "not a valid number for its country")]


# -- duplicates and re-imports --------------------------------------------------------------


def test_duplicates_within_a_file_and_against_the_database_import_once(tmp_path, campaign):
    first = _import(tmp_path, campaign, "phone\n13800138000\n13900139000\n", name="a.csv")
    assert _counts(first) == (2, 0, 0, 0)
    second = _import(
        tmp_path,
        campaign,
        "phone,name\n13900139000,known\n15000150000,new\n150 0015 0000,new again\n",
        name="b.csv",
    )
    assert _counts(second) == (1, 2, 0, 0)
    assert Contact.objects.count() == 3
    assert Target.objects.filter(campaign=campaign).count() == 3
    # The first row seen wins: a duplicate does not overwrite what is stored.
    assert _contacts(campaign)["+8615000150000"].name == "new"


def test_re_importing_a_file_imports_nothing_twice(tmp_path, campaign):
    content = "phone,name\n13800138000,a\n13900139000,b\nbad,c\n"
    first = _import(tmp_path, campaign, content)
    again = _import(tmp_path, campaign, content)
    assert again.pk != first.pk
    assert _counts(first) == (2, 0, 1, 0)
    assert _counts(again) == (0, 2, 1, 0)
    assert Contact.objects.count() == 2
    assert Target.objects.count() == 2


def test_a_second_campaign_gets_known_contacts_attached_as_duplicates(
    tmp_path, campaign, other_campaign
):
    content = "phone\n13800138000\n13900139000\n"
    _import(tmp_path, campaign, content)
    job = _import(tmp_path, other_campaign, content)
    assert _counts(job) == (0, 2, 0, 0)
    assert Contact.objects.count() == 2
    assert set(_contacts(other_campaign)) == {"+8613800138000", "+8613900139000"}
    assert Target.objects.count() == 4


def test_numbers_on_the_do_not_call_list_are_skipped(tmp_path, campaign):
    services.dnc_add(phone="+86 139 0013 9000", actor=None)
    job = _import(tmp_path, campaign, "phone\n13800138000\n13900139000\n139-0013-9000\n")
    assert _counts(job) == (1, 0, 0, 2)
    assert set(_contacts(campaign)) == {"+8613800138000"}
    assert not Contact.objects.filter(blind_index=keyring().blind_index("+8613900139000")).exists()


def test_every_row_of_a_listed_number_counts_as_skipped_wherever_the_batches_split(
    tmp_path, campaign
):
    services.dnc_add(phone="13900139000", actor=None)
    rows = [f"1380000{i:04d}" for i in range(services.BATCH_ROWS + 500)]
    rows[10] = rows[20] = rows[services.BATCH_ROWS + 10] = "13900139000"
    job = _import(tmp_path, campaign, "phone\n" + "\n".join(rows) + "\n")
    assert _counts(job) == (len(rows) - 3, 0, 0, 3)


def test_a_number_put_on_the_list_after_import_stays_skipped_on_re_import(tmp_path, campaign):
    content = "phone\n13800138000\n"
    _import(tmp_path, campaign, content)
    services.dnc_add(phone="13800138000", actor=None)
    assert Target.objects.get().status == TargetStatus.DNC
    job = _import(tmp_path, campaign, content)
    assert _counts(job) == (0, 0, 0, 1)
    assert Target.objects.get().status == TargetStatus.DNC


# -- column mapping -------------------------------------------------------------------------


def test_an_explicit_mapping_overrides_the_headers(tmp_path, campaign):
    job = _import(
        tmp_path,
        campaign,
        "电话,备用,姓名,昵称\n13800138000,13900139000,甲,乙\n",
        mapping={"phone": "备用", "name": "4"},
    )
    assert _counts(job) == (1, 0, 0, 0)
    assert {p: c.name for p, c in _contacts(campaign).items()} == {"+8613900139000": "乙"}


def test_a_file_without_a_header_imports_from_its_first_line_with_a_mapping(tmp_path, campaign):
    job = _import(
        tmp_path,
        campaign,
        "甲,13800138000\n乙,13900139000\n丙,nope\n",
        mapping={"phone": "2", "name": "1"},
    )
    assert _counts(job) == (2, 0, 1, 0)
    assert _rejects(job) == [(3, "not a phone number")]
    assert _contacts(campaign)["+8613800138000"].name == "甲"


def test_a_default_region_reads_national_numbers_of_that_country(tmp_path, campaign):
    job = _import(tmp_path, campaign, "phone\n650 253 0000\n", default_region="US")
    assert _counts(job) == (1, 0, 0, 0)
    assert set(_contacts(campaign)) == {"+16502530000"}


# -- bad rows -------------------------------------------------------------------------------


def test_bad_rows_go_to_the_rejects_with_their_line_as_in_the_file(tmp_path, campaign):
    long_name = "长" * 1001
    content = (
        "\n"  # line 1: blank
        "姓名,手机,备注\n"  # line 2: the header
        "甲,13800138000,ok\n"  # 3
        "乙,garbage,\n"  # 4
        '丙,13900139000,"a note\n'  # 5
        'over two lines"\n'  # 6
        "丁,12,\n"  # 7
        "\n"  # 8: blank, skipped
        f"{long_name},15000150000,\n"  # 9
        "戊\n"  # 10: no phone cell at all
        "己,+999 1234 5678,\n"  # 11
        "庚,13800138001,ok\n"  # 12
    )
    job = _import(tmp_path, campaign, content)
    assert _counts(job) == (3, 0, 5, 0)
    assert _rejects(job) == [
        (4, "not a phone number"),
        (7, "not a valid number for its country"),
        (9, "a cell is longer than 1,000 characters"),
        (10, "no phone number"),
        (11, "unknown country code"),
    ]
    assert _contacts(campaign)["+8613900139000"].notes == "a note\nover two lines"
    # The rejected row is kept, sealed, as it was read.
    reject = ImportReject.objects.get(job=job, line=4)
    assert json.loads(reject.row) == ["乙", "garbage", ""]


def test_the_rejects_csv_has_line_reason_and_cells_with_formulas_defused(tmp_path, campaign):
    job = _import(
        tmp_path,
        campaign,
        "name,phone,notes\n"
        '"=HYPERLINK(""http://evil"",""x"")",nope,+1+2\n'
        "@SUM(A1),-3,ok\n"
        "good,13800138000,fine\n",
    )
    rows = list(csv.reader(io.StringIO("".join(selectors.rejects_csv(job)))))
    assert rows == [
        ["line", "reason", "row"],
        ["2", "not a phone number", '\'=HYPERLINK("http://evil","x")', "nope", "'+1+2"],
        ["3", "not a phone number", "'@SUM(A1)", "'-3", "ok"],
    ]


# -- whole-file problems --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty"),
        (b"\n\n  \r\n", "The file is empty"),
        (b"phone\n1380013\x008000\n", "The file is not text"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "This is a PDF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "old Excel .xls"),
        (b"PK\x03\x04 not really a zip", "The Excel file cannot be read"),
        (
            b"phone\n13800138000\n\x81\x30\xff\xfe\n",
            "not UTF-8 (unreadable at byte 18 (line 3)) nor GB18030 (unreadable at byte 18 "
            "(line 3))",
        ),
        (b"\xef\xbb\xbfphone\n\xff\xfe\n", "starts like utf-8-sig but cannot be read"),
        (
            "姓名,单位,职务\n张三,某局,科长\n".encode(),
            "No phone column found. The first row has '姓名', '单位', '职务'",
        ),
        (b"\n\nname,org\nx,y\n", "The first row has 'name', 'org'; expected a header such as"),
    ],
    ids=[
        "empty",
        "blank",
        "nul-bytes",
        "pdf",
        "xls",
        "broken-xlsx",
        "neither-utf8-nor-gb18030",
        "bad-utf8-after-bom",
        "no-phone-column-zh",
        "no-phone-column-en",
    ],
)
def test_a_file_that_cannot_be_imported_says_why_and_changes_nothing(
    tmp_path, campaign, content, message
):
    _import(tmp_path, campaign, "phone\n13800138000\n", name="earlier.csv")
    before = (Contact.objects.count(), Target.objects.count(), ImportJob.objects.count())
    with pytest.raises(FileProblem) as problem:
        _import(tmp_path, campaign, content)
    assert message in str(problem.value)
    after = (Contact.objects.count(), Target.objects.count(), ImportJob.objects.count())
    assert after == before == (1, 1, 1)


def test_an_xlsx_without_a_phone_column_names_what_it_found(tmp_path, campaign):
    path = _xlsx(tmp_path, [["Name", "Org"], ["x", "y"]])
    with pytest.raises(FileProblem, match="'Name', 'Org'"):
        services.contacts_import_file(path=path, campaign=campaign, actor=None)
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"phone": "手机"}, "phone=手机: no such column. Found: 姓名, 电话"),
        ({"phone": "9"}, "phone=9: the file has 2 columns"),
        ({"phone": "0"}, "phone=0: the file has 2 columns"),
    ],
)
def test_a_mapping_to_a_column_the_file_lacks_is_a_file_problem(
    tmp_path, campaign, mapping, message
):
    with pytest.raises(FileProblem, match=message):
        _import(tmp_path, campaign, "姓名,电话\n甲,13800138000\n", mapping=mapping)
    assert ImportJob.objects.count() == 0


def test_a_missing_file_is_a_file_problem(tmp_path, campaign):
    with pytest.raises(FileProblem, match="cannot be opened"):
        services.contacts_import_file(path=tmp_path / "nope.csv", campaign=campaign, actor=None)


# -- encryption at rest ---------------------------------------------------------------------


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PHONEBANK_HOME": str(home),
        "DJANGO_SETTINGS_MODULE": "phonebank.settings",
    }
    for variable in ("PHONEBANK_DATA_KEY", "PHONEBANK_SECRET_KEY", "DATABASE_URL"):
        env.pop(variable, None)
    return subprocess.run(  # noqa: S603 - our own console script
        [sys.executable, "-m", "phonebank.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_after_an_import_the_database_file_holds_no_number_or_name_in_plaintext(tmp_path):
    home = tmp_path / "home"
    people = [
        ("13812345678", "Qwertyuiop Zxcvbnm", "Unusualorganisation"),
        ("15987654321", "欧阳明月", "青松岭林业局"),
        ("0755 2345 6789", "Xylophonist Quinby", "深圳市某某单位"),
    ]
    csv_text = "手机,姓名,单位\n" + "".join(f"{p},{n},{o}\n" for p, n, o in people)
    path = tmp_path / "people.csv"
    path.write_text(csv_text, encoding="utf-8")
    _cli(home, "manage", "migrate", "-v", "0")
    _cli(home, "campaign", "create", "secret", "--name", "Secret")
    result = _cli(home, "contacts", "import", str(path), "--campaign", "secret", "--json")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary == {"imported": 3, "duplicates": 0, "rejected": 0, "skipped_dnc": 0}

    database = home / "phonebank.sqlite3"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        assert db.execute("SELECT count(*) FROM contacts_contact").fetchone() == (3,)
        provinces = {row[0] for row in db.execute("SELECT province FROM contacts_contact")}
    assert provinces == {"JS", "YN", "GD"}  # what queueing needs stays in the clear
    raw = b"".join(p.read_bytes() for p in home.glob("phonebank.sqlite3*"))
    assert len(raw) > 0
    secrets = ["+8613812345678", "+8615987654321", "+8675523456789"]
    secrets += ["13812345678", "15987654321", "75523456789", "2345 6789"]
    for _phone, name, organisation in people:
        secrets += [name, organisation]
    for secret in secrets:
        assert secret.encode() not in raw, secret
        assert secret.encode("utf-16-le") not in raw, secret


@pytest.mark.parametrize("ending", ["\n", ""])
def test_the_row_estimate_counts_data_rows_exactly(tmp_path, ending):
    from phonebank.contacts.reader import open_table

    rows = "\n".join(f"1380013{i:04d},name {i}" for i in range(5000))  # over the 64 KB sample
    path = tmp_path / "big.csv"
    path.write_text("phone,name\n" + rows + ending, encoding="utf-8")
    table = open_table(lambda: open(path, "rb"))  # noqa: SIM115
    assert table.rows_total == 5000


# -- the parsing half (pipeline) --------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(fields=st.lists(st.text(), min_size=4, max_size=4))
def test_details_json_is_what_json_dumps_writes(fields):
    from phonebank.contacts.pipeline import details_json

    expected = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    assert details_json(*fields) == ("" if not any(fields) else expected)


def test_a_batch_parses_as_its_rows_do_one_by_one():
    from phonebank.contacts import pipeline

    columns = {"phone": 0, "name": 1, "organisation": 2, "region": 3, "notes": 5}
    rows = [
        (2, ["13800138000", "王伟", "第一中学", "", "", "备注"]),
        (3, ["+86 139 0000 0000", "", "", "", ""]),  # no details at all
        (4, ["17012345678", "李", "", "广东", ""]),  # no province in the data: the region's
        (5, ["12345", "bad", "", "", ""]),
        (6, ["0755 8888 1234", "x" * 1001, "", "", ""]),  # a cell too long
        (7, ["020 8888 1234"]),  # short row
        (9, ["+1 650 253 0000", 'a "quoted" name\\n', "", "", "", ""]),
        (10, ["", "no number"]),
    ]
    ring = keyring()
    pipeline.init_worker(ring.dumps())
    batch = pipeline.parse_batch((rows, columns, "CN", True))

    def opened(t):  # sealed values differ by nonce: compare what they open to
        if len(t) == 3:
            return (t[0], t[1], ring.decrypt(t[2], "import.reject.row"))
        phone = ring.decrypt(t[2], "contact.phone")
        details = ring.decrypt(t[3], "contact.details") if t[3] else ""
        return (t[0], t[1], phone, details, *t[4:])

    one_by_one = [
        tuple(pipeline.parse_row(ring, line, cells, columns, "CN")) for line, cells in rows
    ]
    assert [opened(t) for t in batch] == [opened(t) for t in one_by_one]
    assert [len(t) for t in batch] == [9, 9, 9, 3, 3, 9, 9, 3]
    assert opened(batch[2])[5] == "GD"
