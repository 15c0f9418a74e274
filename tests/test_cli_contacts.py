"""The command line for contacts, the do-not-call list, keys, users, tokens and campaigns."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection

from phonebank.accounts.models import ApiToken, Membership, Role, User
from phonebank.accounts.services import token_authenticate
from phonebank.audit.models import LogEntry
from phonebank.calling.models import Target, TargetStatus
from phonebank.campaigns.models import Campaign
from phonebank.contacts import services
from phonebank.contacts.models import Contact, DoNotCall, ImportJob, ImportReject
from phonebank.lib.crypto import Keyring
from phonebank.lib.fields import keyring
from tests.conftest import PASSWORD


def run(*args: str) -> list[str]:
    """Run a command; its standard output as lines."""
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue().splitlines()


@pytest.fixture
def contacts_file(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text(
        "手机,姓名,单位\n"
        "13800138000,张三,某局\n"
        "138 0013 8000,张三,某局\n"
        "13900139000,李四,\n"
        "garbage,=cmd|' /C calc'!A0,\n",
        encoding="utf-8",
    )
    return path


# -- contacts import ------------------------------------------------------------------------


def test_import_with_json_prints_the_summary_as_its_last_line(campaign, contacts_file):
    lines = run("contacts", "import", str(contacts_file), "--campaign", "spring", "--json")
    assert json.loads(lines[-1]) == {
        "imported": 2,
        "duplicates": 1,
        "rejected": 1,
        "skipped_dnc": 0,
    }
    assert Target.objects.filter(campaign=campaign).count() == 2


def test_import_without_json_says_what_happened_in_words(campaign, contacts_file, tmp_path):
    rejects = tmp_path / "rejects.csv"
    lines = run(
        "contacts",
        "import",
        str(contacts_file),
        "--campaign",
        "spring",
        "--rejects",
        str(rejects),
    )
    assert lines[-1] == (
        f"imported 2, duplicates 1, rejected 1, on do-not-call 0 (rejects in {rejects})"
    )


def test_import_writes_the_rejects_with_line_and_reason(campaign, contacts_file, tmp_path):
    rejects = tmp_path / "out" / "rejects.csv"
    rejects.parent.mkdir()
    run(
        "contacts",
        "import",
        str(contacts_file),
        "--campaign",
        "spring",
        "--rejects",
        str(rejects),
        "--json",
    )
    rows = list(csv.reader(io.StringIO(rejects.read_text(encoding="utf-8"))))
    assert rows == [
        ["line", "reason", "row"],
        ["5", "not a phone number", "garbage", "'=cmd|' /C calc'!A0", ""],
    ]


def test_import_with_a_mapping_and_a_default_region(campaign, tmp_path):
    path = tmp_path / "us.csv"
    path.write_text("who,home,cell\nAnn,650 253 0000,650 253 0001\n", encoding="utf-8")
    lines = run(
        "contacts",
        "import",
        str(path),
        "--campaign",
        "spring",
        "--map",
        "phone=cell,name=1",
        "--default-region",
        "us",
        "--json",
    )
    assert json.loads(lines[-1])["imported"] == 1
    contact = Contact.objects.get()
    assert (contact.phone, contact.name) == ("+16502530001", "Ann")


def test_import_into_an_unknown_campaign_is_an_error(db, contacts_file):
    with pytest.raises(CommandError, match="no campaign 'nope'"):
        run("contacts", "import", str(contacts_file), "--campaign", "nope")
    assert ImportJob.objects.count() == 0


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("phone", "Column mapping 'phone' is not understood"),
        ("mobile=2", "Column mapping 'mobile=2' is not understood"),
        ("phone=", "Column mapping 'phone=' is not understood"),
        ("phone=电话", "phone=电话: no such column. Found: 手机, 姓名, 单位"),
        ("phone=7", "phone=7: the file has 3 columns"),
    ],
)
def test_a_bad_mapping_is_an_error_that_changes_nothing(campaign, contacts_file, mapping, message):
    with pytest.raises(CommandError, match=message):
        run("contacts", "import", str(contacts_file), "--campaign", "spring", "--map", mapping)
    assert (ImportJob.objects.count(), Contact.objects.count()) == (0, 0)


def test_a_file_that_cannot_be_imported_is_an_error_naming_the_file(campaign, tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("姓名\n张三\n", encoding="utf-8")
    with pytest.raises(
        CommandError, match=rf"{re.escape(str(path))}: No phone column found\. .*'姓名'"
    ):
        run("contacts", "import", str(path), "--campaign", "spring", "--json")
    assert ImportJob.objects.count() == 0


# -- do-not-call ------------------------------------------------------------------------------


def test_dnc_add_check_and_remove(db):
    assert run("dnc", "check", "13800138000") == ["not on the list"]
    assert run("dnc", "add", "+86 138 0013 8000", "--reason", "asked") == ["added"]
    assert run("dnc", "add", "13800138000") == ["already on the list"]
    assert run("dnc", "check", "0086 138-0013-8000") == ["on the list"]
    entry = DoNotCall.objects.get()
    assert (entry.phone, entry.reason) == ("+8613800138000", "asked")
    assert run("dnc", "remove", "13800138000") == ["removed"]
    assert run("dnc", "check", "13800138000") == ["not on the list"]
    with pytest.raises(CommandError, match="not on the list"):
        run("dnc", "remove", "13800138000")
    actions = set(LogEntry.objects.values_list("action", flat=True))
    assert {"contacts.dnc.added", "contacts.dnc.removed"} <= actions


def test_dnc_uses_the_default_region_for_national_numbers(db):
    assert run("dnc", "add", "650 253 0000", "--default-region", "US") == ["added"]
    assert DoNotCall.objects.get().phone == "+16502530000"


@pytest.mark.parametrize("action", ["add", "check", "remove"])
def test_dnc_with_something_that_is_not_a_number_is_an_error(db, action):
    with pytest.raises(CommandError, match="is not a valid phone number: not a phone number"):
        run("dnc", action, "not a number")
    assert DoNotCall.objects.count() == 0


def test_dnc_add_closes_the_number_in_every_campaign(campaign, other_campaign, contacts_file):
    for slug in ("spring", "autumn"):
        run("contacts", "import", str(contacts_file), "--campaign", slug, "--json")
    run("dnc", "add", "13800138000")
    closed = Target.objects.filter(contact__blind_index=keyring().blind_index("+8613800138000"))
    assert {t.status for t in closed} == {TargetStatus.DNC}
    assert closed.count() == 2
    assert Target.objects.exclude(status=TargetStatus.DNC).count() == 2


def test_dnc_import_lists_every_number_and_later_imports_skip_them(
    campaign, contacts_file, tmp_path
):
    run("contacts", "import", str(contacts_file), "--campaign", "spring", "--json")
    path = tmp_path / "dnc.csv"
    path.write_text("phone\n13800138000\n15000150000\n150 0015 0000\nnope\n", encoding="utf-8")
    lines = run("dnc", "import", str(path), "--json")
    assert json.loads(lines[-1]) == {"added": 2, "duplicates": 1, "rejected": 1}
    assert {e.phone for e in DoNotCall.objects.all()} == {"+8613800138000", "+8615000150000"}
    assert Target.objects.get(status=TargetStatus.DNC).contact.phone == "+8613800138000"
    assert run("dnc", "check", "15000150000") == ["on the list"]
    # Again: nothing is added twice.
    assert run("dnc", "import", str(path))[-1] == "added 0, already listed 3, rejected 1"

    fresh = tmp_path / "fresh.csv"
    fresh.write_text("phone\n15000150000\n13700137000\n", encoding="utf-8")
    lines = run("contacts", "import", str(fresh), "--campaign", "spring", "--json")
    assert json.loads(lines[-1]) == {
        "imported": 1,
        "duplicates": 0,
        "rejected": 0,
        "skipped_dnc": 1,
    }


def test_dnc_import_of_a_file_that_cannot_be_read_is_an_error(db, tmp_path):
    path = tmp_path / "dnc.pdf"
    path.write_bytes(b"%PDF-1.4\n")
    with pytest.raises(CommandError, match="This is a PDF"):
        run("dnc", "import", str(path))


# -- keys -----------------------------------------------------------------------------------


@pytest.fixture
def keyring_file(settings, tmp_path):
    """The keyring in a file, as `keys rotate` needs; settings are restored afterwards."""
    path = tmp_path / "data-keys.json"
    path.write_text(settings.PHONEBANK_KEYRING.dumps())
    settings.PHONEBANK_DATA_KEY_SOURCE = str(path)
    settings.PHONEBANK_KEYRING = Keyring.loads(path.read_text())
    return path


SEALED = {
    "contacts_contact": ("phone", "details"),
    "contacts_donotcall": ("phone",),
    "contacts_importreject": ("row",),
}


def _stored_tokens() -> list[str]:
    tokens = []
    with connection.cursor() as cur:
        for table, columns in SEALED.items():
            cur.execute(f"SELECT {', '.join(columns)} FROM {table}")  # noqa: S608 - fixed names
            tokens += [t for row in cur.fetchall() for t in row if t]
    return tokens


def test_keys_status_shows_the_current_key_and_use(keyring_file, campaign, contacts_file):
    assert run("keys", "status") == ["k1\tcurrent, unused"]
    run("contacts", "import", str(contacts_file), "--campaign", "spring", "--json")
    assert run("keys", "status") == ["k1\tcurrent, in use"]


def test_keys_rotate_re_encrypts_everything_under_the_new_key(
    keyring_file, campaign, contacts_file
):
    run("contacts", "import", str(contacts_file), "--campaign", "spring", "--json")
    run("dnc", "add", "15000150000")
    before = _stored_tokens()
    assert before and all(t.startswith("k1$") for t in before)

    lines = run("keys", "rotate")

    # Two contacts, one do-not-call entry, one rejected row.
    assert lines[-1].startswith("new current key k2; re-encrypted 4 rows.")
    after = _stored_tokens()
    assert len(after) == len(before)
    assert all(t.startswith("k2$") for t in after)
    stored = Keyring.loads(keyring_file.read_text())
    assert (stored.current, set(stored.data_keys)) == ("k2", {"k1", "k2"})
    assert oct(keyring_file.stat().st_mode & 0o777) == "0o600"
    # The values still open, through the models and under the keyring as written to disk.
    assert {c.phone: c.name for c in Contact.objects.all()} == {
        "+8613800138000": "张三",
        "+8613900139000": "李四",
    }
    assert DoNotCall.objects.get().phone == "+8615000150000"
    assert json.loads(ImportReject.objects.get().row)[0] == "garbage"
    k2_only = stored.without_keys_except(set())
    assert {k2_only.decrypt(t, "contact.phone") for t in _phones()} == {
        "+8613800138000",
        "+8613900139000",
    }
    assert run("keys", "status") == ["k1\tunused", "k2\tcurrent, in use"]
    assert LogEntry.objects.filter(action="keys.data.rotated").count() == 1


def test_keys_rotate_re_encrypts_an_imported_do_not_call_list(keyring_file, db, tmp_path):
    path = tmp_path / "dnc.csv"
    path.write_text("phone\n13800138000\n15000150000\n", encoding="utf-8")
    run("dnc", "import", str(path), "--json")
    assert run("keys", "rotate")[-1].startswith("new current key k2; re-encrypted 2 rows.")
    assert {e.phone for e in DoNotCall.objects.all()} == {"+8613800138000", "+8615000150000"}
    assert all(t.startswith("k2$") for t in _stored_tokens())


def _phones() -> set[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT phone FROM contacts_contact")
        return {row[0] for row in cur.fetchall()}


def test_keys_retire_drops_keys_nothing_uses(keyring_file, campaign, contacts_file):
    run("contacts", "import", str(contacts_file), "--campaign", "spring", "--json")
    assert run("keys", "retire") == ["no key to retire"]
    run("keys", "rotate")
    assert run("keys", "retire") == ["retired k1"]
    stored = Keyring.loads(keyring_file.read_text())
    assert (stored.current, set(stored.data_keys)) == ("k2", {"k2"})
    for token in _phones():
        assert stored.decrypt(token, "contact.phone").startswith("+86")
    assert LogEntry.objects.filter(action="keys.data.retired").count() == 1


def test_keys_retire_keeps_a_key_a_waiting_upload_still_needs(keyring_file, campaign, admin):
    services.import_upload(
        campaign=campaign,
        actor=admin,
        upload=SimpleUploadedFile("l.csv", "手机\n13800138000\n".encode()),
    )
    run("keys", "rotate")
    assert run("keys", "status") == ["k1\tin use", "k2\tcurrent, unused"]
    assert run("keys", "retire") == ["no key to retire"]
    assert set(Keyring.loads(keyring_file.read_text()).data_keys) == {"k1", "k2"}
    # The upload, sealed under k1, still imports.
    job = services.import_job_run(services.import_job_claim())
    assert job.imported == 1


def test_keys_rotate_refuses_a_keyring_from_an_environment_variable(settings, db):
    settings.PHONEBANK_DATA_KEY_SOURCE = "PHONEBANK_DATA_KEY"
    with pytest.raises(CommandError, match="PHONEBANK_DATA_KEY_FILE"):
        run("keys", "rotate")
    assert settings.PHONEBANK_KEYRING.current == "k1"


# -- users, tokens, campaigns ---------------------------------------------------------------


def test_createuser_reads_the_password_from_stdin(campaign, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    lines = run(
        "createuser", "nina", "--role", "caller", "--campaign", "spring", "--password-stdin"
    )
    assert lines == ["created nina (caller) in spring"]
    user = User.objects.get(username="nina")
    assert user.check_password(PASSWORD)
    assert user.role == Role.CALLER
    assert not user.is_staff
    assert Membership.objects.filter(user=user, campaign=campaign).exists()


def test_createuser_makes_admins_staff(db, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\r\n"))
    assert run("createuser", "root", "--role", "admin", "--password-stdin") == [
        "created root (admin)"
    ]
    user = User.objects.get(username="root")
    assert user.is_staff and user.is_superuser and user.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["--campaign", "nope"], PASSWORD, "no campaign 'nope'"),
        ([], "short", "too short"),
        ([], "", "too short"),
    ],
)
def test_createuser_refuses_bad_input(db, monkeypatch, args, password, message):
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    with pytest.raises(CommandError, match=message):
        run("createuser", "nina", "--role", "caller", "--password-stdin", *args)
    assert not User.objects.filter(username="nina").exists()


def test_createuser_refuses_a_taken_name(caller, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    with pytest.raises(CommandError, match="taken"):
        run("createuser", caller.username.upper(), "--role", "caller", "--password-stdin")


def test_token_create_prints_a_token_that_authenticates_and_is_stored_only_hashed(caller):
    (raw,) = run("token", "create", caller.username)
    assert token_authenticate(raw) == caller
    assert token_authenticate(raw + "x") is None
    token = ApiToken.objects.get(user=caller)
    stored = " ".join(str(v) for v in ApiToken.objects.values_list().get())
    assert raw not in stored
    assert token.key_hash != raw
    assert len(token.key_hash) == 64
    listing = run("token", "list", caller.username)
    assert len(listing) == 1 and raw not in listing[0]


def test_token_create_for_an_unknown_user_is_an_error(db):
    with pytest.raises(CommandError, match="no user 'ghost'"):
        run("token", "create", "ghost")


def test_campaign_create_with_hours(db):
    assert run("campaign", "create", "night", "--name", "Night", "--hours", "00:00-24:00") == [
        "created campaign night (00:00-24:00)"
    ]
    assert Campaign.objects.get(slug="night").calling_hours == "00:00-24:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hours", "9-12"], "Calling hours: give at least one window, like 09:00-12:00"),
        (["--hours", "09:00-12:00,noon"], "'noon' is not a window like 09:00-12:00"),
        (["--hours", "09:00-12:00,11:00-13:00"], "windows overlap"),
        (["--hours", "25:00-26:00"], "Calling hours: '25:00-26:00' is not a time of day"),
        (["--hours", "12:00-09:00"], "ends before it starts"),
    ],
)
def test_campaign_create_with_bad_hours_is_an_error(db, args, message):
    with pytest.raises(CommandError, match=message):
        run("campaign", "create", "night", "--name", "Night", *args)
    assert not Campaign.objects.filter(slug="night").exists()


@pytest.mark.parametrize("slug", ["Has Spaces", "UPPER", ""])
def test_campaign_create_with_a_bad_short_name_is_an_error(db, slug):
    with pytest.raises(CommandError, match="short name"):
        run("campaign", "create", slug, "--name", "X")


def test_campaign_create_refuses_a_taken_short_name(campaign):
    with pytest.raises(CommandError, match="exists"):
        run("campaign", "create", "spring", "--name", "Again")
