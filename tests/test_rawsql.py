"""lib/rawsql: hand-written statements give the instances and rows the ORM would."""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from phonebank.audit.models import LogEntry
from phonebank.calling.models import Target
from phonebank.contacts.models import Contact
from phonebank.lib import rawsql
from phonebank.lib.fields import keyring


def _contact(e164: str = "+8613900000001") -> Contact:
    return Contact.objects.create(
        blind_index=keyring().blind_index(e164), phone=e164, name="名", timezone="Asia/Shanghai"
    )


def test_loaded_rows_equal_what_the_orm_gives(campaign):
    contact = _contact()
    now = timezone.now()
    made = Target.objects.create(campaign=campaign, contact=contact, next_call_at=now)
    target, sealed = rawsql.columns(Target, "t"), rawsql.columns(Contact, "k")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {target.sql}, {sealed.sql} FROM {rawsql.table(Target)} t "  # noqa: S608
            f"JOIN {rawsql.table(Contact)} k ON k.id = t.contact_id WHERE t.id = %s",
            [made.pk],
        )
        row = cursor.fetchone()
    loaded, loaded_contact = target.load(row), sealed.load(row, target.width)
    orm = Target.objects.select_related("contact").get(pk=made.pk)
    for field in Target._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(orm, field.attname), field.name
    assert loaded.next_call_at == now and timezone.is_aware(loaded.next_call_at)
    assert (loaded_contact.phone, loaded_contact.name) == ("+8613900000001", "名")  # unsealed
    assert bytes(loaded_contact.blind_index) == bytes(orm.contact.blind_index)
    assert not loaded._state.adding and loaded._state.db == "default"


def test_some_columns_only(campaign):
    columns = rawsql.columns(Target, "t", "id", "attempts")
    assert columns.names == ["id", "attempts"] and columns.width == 2


def test_insert_is_what_create_would_store(caller):
    entry = rawsql.insert(
        LogEntry(actor=caller, action="test.done", object_type="x", data={"n": 1, "t": "名"})
    )
    stored = LogEntry.objects.get(pk=entry.pk)
    assert (stored.actor, stored.action, stored.data) == (caller, "test.done", {"n": 1, "t": "名"})
    assert stored.created_at == entry.created_at and timezone.is_aware(stored.created_at)
    assert not entry._state.adding


def test_insert_seals_encrypted_fields(campaign):
    from phonebank.calling.models import CallAttempt

    target = Target.objects.create(campaign=campaign, contact=_contact())
    now = timezone.now()
    attempt = rawsql.insert(
        CallAttempt(
            target=target,
            campaign=campaign,
            started_at=now,
            ended_at=now,
            outcome="busy",
            notes="秘密",
        )
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT notes FROM calling_callattempt WHERE id = %s", [attempt.pk])
        assert "秘密" not in cursor.fetchone()[0]
    assert CallAttempt.objects.get(pk=attempt.pk).notes == "秘密"


def test_update_changes_only_the_matching_rows(campaign, caller):
    target = Target.objects.create(campaign=campaign, contact=_contact(), lease_holder=caller)
    where = {"id": target.pk, "lease_holder": caller, "attempts": 1}
    assert rawsql.update(Target, where, {"attempts": 2}) == 0  # attempts is 0
    where["attempts"] = 0
    assert rawsql.update(Target, where, {"attempts": 1, "lease_holder": None}) == 1
    target.refresh_from_db()
    assert (target.attempts, target.lease_holder_id) == (1, None)
