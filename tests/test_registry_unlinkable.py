"""Nothing in the database lines a declaration up with the call it was recorded on.

The call is recorded by design (an attempt with outcome "declared", its audit entry, exact
times): what must not exist is an order, a time or an adjacency that pairs each declaration
with its call. Fifty declarations are recorded on fifty calls in a known order, and each
ordering of the registry's rows a reader of the database could use (keys, organisation
rows' keys, the table's own order, log positions, and on PostgreSQL `ctid` and `xmin`) is
compared with the call order.

The comparison counts inversions (pairs the two orders disagree on). Rows in call order have
0, in reverse order 1,225; a random order has 612.5 on average with a standard deviation of
59.8. The test accepts 612.5 ± 8 standard deviations (134 … 1,091): a random order fails it
about once in 10^15 runs; any order that follows the calls fails it always.
"""

from __future__ import annotations

import json
import math
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor

from phonebank.audit.models import LogEntry
from phonebank.calling import services as calling
from phonebank.calling.models import Outcome, Target
from phonebank.contacts.models import Contact
from phonebank.lib.fields import keyring
from phonebank.lib.randomid import RandomIdField
from phonebank.registry import selectors, services
from phonebank.registry.models import (
    Declaration,
    DeclarationOrganisation,
    Source,
    Withdrawal,
)
from phonebank.tlog.models import Bundle, Tile

N = 50
START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, inside calling hours
POSTGRES = connection.vendor == "postgresql"


def inversions(values: list) -> int:
    return sum(
        1 for i in range(len(values)) for j in range(i + 1, len(values)) if values[i] > values[j]
    )


def assert_orderless(values: list, what: str) -> None:
    """`values`, listed in call order, must be in no order the calls could explain."""
    n = len(values)
    assert len(set(values)) == n, what
    mean = n * (n - 1) / 4
    sd = math.sqrt(n * (n - 1) * (2 * n + 5) / 72)
    found = inversions(values)
    assert values != sorted(values) and values != sorted(values, reverse=True), what
    assert abs(found - mean) <= 8 * sd, (
        f"{what}: {found} inversions, random gives {mean} ± {sd:.1f}"
    )


def test_the_check_itself_catches_call_order_and_passes_a_shuffle():
    assert inversions(list(range(N))) == 0
    with pytest.raises(AssertionError):
        assert_orderless(list(range(N)), "sequential")
    with pytest.raises(AssertionError):
        assert_orderless([i + (5 if i % 2 else 0) for i in range(N)], "nearly sequential")
    shuffled = list(range(N))
    random.Random(4).shuffle(shuffled)  # a fixed permutation: no flake
    assert_orderless(shuffled, "shuffled")


@pytest.fixture
def calls(campaign, caller, settings):
    """N declarations recorded on N calls, two minutes apart: [(attempt, declaration)] in
    call order."""
    cache.clear()
    for n in range(N):
        e164 = f"+86139{n:08d}"
        contact = Contact.objects.create(
            blind_index=keyring().blind_index(e164),
            phone=e164,
            name=f"name {n}",
            country="CN",
            province="GD",
            timezone="Asia/Shanghai",
        )
        Target.objects.create(campaign=campaign, contact=contact)
    made = []
    for n in range(N):
        now = START + timedelta(minutes=2 * n)
        target = calling.target_claim(campaign=campaign, caller=caller, now=now).target
        attempt, receipt = calling.outcome_record(
            target=target,
            caller=caller,
            outcome=Outcome.DECLARED,
            now=now + timedelta(minutes=1),
            declaration={
                "alias": f"alias {n}",
                "organisations": ["party", "league"],
                "consent": True,
            },
        )
        made.append((attempt, Declaration.objects.get(receipt_hash=services.receipt_hash(receipt))))
    return made


def _column(sql: str, params=()) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _table_order(table: str, column: str, where: str = "TRUE") -> list:
    """`column` in the order the rows are stored: PostgreSQL's heap (ctid), SQLite's table
    b-tree (a scan that uses no index)."""
    if POSTGRES:
        return _column(f"SELECT {column} FROM {table} WHERE {where} ORDER BY ctid")  # noqa: S608
    return _column(f"SELECT {column} FROM {table} NOT INDEXED WHERE {where}")  # noqa: S608


def _org_keys(made) -> list[int]:
    """One organisation row per declaration (the party's), in call order."""
    party = dict(
        DeclarationOrganisation.objects.filter(code="party").values_list("declaration_id", "id")
    )
    return [party[d.pk] for _a, d in made]


def test_declarations_from_calls_keep_no_order_of_the_calls(calls):
    attempts = [a.pk for a, _d in calls]
    assert attempts == sorted(attempts)  # the calls' own ids follow the calls (by design)
    assert LogEntry.objects.filter(action="calling.outcome.recorded").count() == N

    # Keys: the declarations' and their organisation rows'.
    assert_orderless([d.pk for _a, d in calls], "declaration ids")
    assert_orderless(_org_keys(calls), "organisation row ids")
    # No time of day anywhere in the registry's rows: only days.
    for model in (Declaration, DeclarationOrganisation, Withdrawal):
        assert isinstance(model._meta.pk, RandomIdField), model
        kinds = {type(f) for f in model._meta.concrete_fields}
        assert not kinds & {models.DateTimeField, models.TimeField}, model
    assert {d.declared_on for _a, d in calls} == {calls[0][1].declared_on}
    # The registry writes no audit entry of its own, and no log row waits before the seal:
    # pending entries are the declarations themselves (log_index NULL), keyed at random.
    ids = {str(d.pk) for _a, d in calls}
    for entry in LogEntry.objects.all():
        assert not entry.object_type.startswith("registry."), entry.action
        assert entry.object_id not in ids and not ids & set(
            re.findall(r"\d+", json.dumps(entry.data))
        )
    assert not Bundle.objects.exists() and not Tile.objects.exists()
    assert Declaration.objects.filter(log_index__isnull=True).count() == N
    if not POSTGRES:
        # SQLite: the key is the rowid, so the table is stored in the keys' (random) order.
        assert _column("SELECT COUNT(*) FROM registry_declaration WHERE rowid = id") == [N]
        assert _column(
            "SELECT COUNT(*) FROM registry_declarationorganisation WHERE rowid = id"
        ) == [2 * N]
        stored = _table_order("registry_declaration", "id")
        assert stored == sorted(stored)
        assert_orderless([stored.index(d.pk) for _a, d in calls], "table order before the seal")
    # (PostgreSQL before the seal: heap order and xmin still follow the calls; documented.)

    services.registry_publish()

    fresh = {d.pk: d for d in Declaration.objects.all()}
    assert_orderless([fresh[d.pk].log_index for _a, d in calls], "log positions")
    stored = _table_order("registry_declaration", "id")
    assert_orderless([stored.index(d.pk) for _a, d in calls], "table order after the seal")
    assert_orderless(_org_keys(calls), "organisation row ids after the seal")
    orgs = _table_order("registry_declarationorganisation", "declaration_id", "code = 'party'")
    assert_orderless([orgs.index(d.pk) for _a, d in calls], "organisation rows' table order")
    if POSTGRES:
        assert stored == sorted(fresh, key=lambda pk: fresh[pk].log_index)  # the log's order
        written_by = set(_column("SELECT xmin::text FROM registry_declaration"))
        written_by |= set(_column("SELECT xmin::text FROM registry_declarationorganisation"))
        calls_by = set(_column("SELECT xmin::text FROM calling_callattempt"))
        assert len(written_by) == 1 and not written_by & calls_by  # all by the seal


def test_the_public_pages_order_by_day_then_log_position(calls, client):
    services.registry_publish()
    size = selectors.published().size
    rows = selectors.search(size, "")
    listed = [d.log_index for d in rows]
    assert listed == sorted(listed, reverse=True)  # one day: the log's (shuffled) order
    by_call = {d.pk: i for i, (_a, d) in enumerate(calls)}
    assert_orderless([by_call[d.pk] for d in rows], "the public list")
    older = Declaration.objects.get(pk=calls[0][1].pk)
    older.declared_on -= timedelta(days=1)
    older.save(update_fields=["declared_on"])
    assert [d.pk for d in selectors.search(size, "")][-1] == older.pk  # an older day: last
    assert older.pk not in [d.pk for d in selectors.latest(size)]
    page = client.get("/registry/declarations/?q=alias").content.decode()
    assert page.count('class="alias"') == N


def test_a_withdrawal_gets_a_random_key_and_both_survive_the_seal(db):
    declaration, code = services.declaration_record(
        alias="晨光", organisations=["party"], allowed={"party"}, source=Source.WEB, consent=True
    )
    withdrawal = services.declaration_withdraw(code=code)
    services.registry_publish()
    after = Withdrawal.objects.select_related("declaration").get()
    assert (after.pk, after.declaration_id) == (withdrawal.pk, declaration.pk)
    assert after.log_index == 1 and after.declaration.log_index == 0
    assert after.declaration.status == "withdrawn"
    found = selectors.receipt_lookup(code)
    assert found.sealed and found.verified and found.withdrawal_index == 1

    # A declaration sealed before and withdrawn later: both rows are last written by the seal.
    later, later_code = services.declaration_record(
        alias="暮色", organisations=["party"], allowed={"party"}, source=Source.WEB, consent=True
    )
    services.registry_publish()
    services.declaration_withdraw(code=later_code)
    services.registry_publish()
    assert Withdrawal.objects.get(declaration=later).log_index == 3
    if POSTGRES:
        row = "SELECT xmin::text FROM {} WHERE {} = %s"
        declaration_xmin = _column(row.format("registry_declaration", "id"), [later.pk])
        withdrawal_xmin = _column(row.format("registry_withdrawal", "declaration_id"), [later.pk])
        sealed_by = _column("SELECT xmin::text FROM tlog_checkpoint ORDER BY size DESC LIMIT 1")
        assert declaration_xmin == withdrawal_xmin == sealed_by


def test_a_clash_of_random_keys_is_drawn_again(db, monkeypatch):
    first, _code = services.declaration_record(
        alias="a", organisations=["party"], allowed={"party"}, source=Source.WEB, consent=True
    )
    taken = iter([first.pk, first.pk, 12345, 67890])  # two draws clash, the third does not
    for model in (Declaration, DeclarationOrganisation):  # the default, as Django reads it
        monkeypatch.setattr(model._meta.pk, "_get_default", lambda: next(taken))
    second, _code = services.declaration_record(
        alias="b", organisations=["party"], allowed={"party"}, source=Source.WEB, consent=True
    )
    assert second.pk == 12345
    assert Declaration.objects.count() == 2 and DeclarationOrganisation.objects.count() == 2


# --- the migration: existing rows get random keys -----------------------------------------

BEFORE = [("registry", "0002_withdrawals_log_index_throttles")]
COUNT = 60


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_rows_random_keys_and_keeps_their_links():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    OldDeclaration = old.get_model("registry", "Declaration")
    OldOrganisation = old.get_model("registry", "DeclarationOrganisation")
    OldWithdrawal = old.get_model("registry", "Withdrawal")
    made = []
    for n in range(COUNT):
        d = OldDeclaration.objects.create(
            alias=f"alias {n}",
            declared_on=START.date(),
            source="phone",
            receipt_hash=f"{n:064x}",
            status="withdrawn" if n % 10 == 0 else "active",
            log_index=n if n < 40 else None,
        )
        codes = ["party", "league"] if n % 2 else ["party"]
        for code in codes:
            OldOrganisation.objects.create(declaration=d, code=code)
        if n % 10 == 0:
            OldWithdrawal.objects.create(
                declaration=d, withdrawn_on=START.date(), log_index=100 + n
            )
        made.append((d.pk, codes))
    old_ids = [pk for pk, _codes in made]
    assert old_ids == sorted(old_ids)  # a sequence: the order they were written in

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    rows = {d.alias: d for d in Declaration.objects.prefetch_related("organisations")}
    assert len(rows) == COUNT
    new_ids = [rows[f"alias {n}"].pk for n in range(COUNT)]
    assert not set(new_ids) & set(old_ids) and min(new_ids) > max(old_ids)
    assert_orderless(new_ids, "migrated declaration ids")
    for n, (_old, codes) in enumerate(made):
        d = rows[f"alias {n}"]
        assert sorted(o.code for o in d.organisations.all()) == sorted(codes)
        assert d.log_index == (n if n < 40 else None) and d.receipt_hash == f"{n:064x}"
    party = dict(
        DeclarationOrganisation.objects.filter(code="party").values_list("declaration_id", "id")
    )
    assert_orderless([party[pk] for pk in new_ids], "migrated organisation row ids")
    withdrawals = {w.declaration.alias: w for w in Withdrawal.objects.select_related("declaration")}
    assert sorted(withdrawals) == sorted(f"alias {n}" for n in range(0, COUNT, 10))
    assert all(w.log_index == 100 + int(a.split()[1]) for a, w in withdrawals.items())
    assert all(w.pk > max(old_ids) for w in withdrawals.values())
    if not POSTGRES:
        assert not _column(
            "SELECT name FROM sqlite_sequence WHERE name LIKE 'registry_declaration%%' "
            "OR name = 'registry_withdrawal'"
        )  # no sequence left to read a count from
        assert _column("SELECT COUNT(*) FROM registry_declaration WHERE rowid = id") == [COUNT]
    # New rows get random keys too, and the whole thing still seals.
    fresh, code = services.declaration_record(
        alias="新", organisations=["party"], allowed={"party"}, source=Source.WEB, consent=True
    )
    assert fresh.pk not in new_ids
    Declaration.objects.filter(log_index__isnull=False).update(log_index=None)
    Withdrawal.objects.update(log_index=None)
    sealed = services.registry_publish()
    assert sealed.added == COUNT + 1 + len(withdrawals)
    assert selectors.receipt_lookup(code).verified

    # And back: keys 1 … N again (in the order of the random keys), the sequence goes on.
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    OldDeclaration = old.get_model("registry", "Declaration")
    back = sorted(OldDeclaration.objects.values_list("pk", flat=True))
    assert back == list(range(1, COUNT + 2))
    later = OldDeclaration.objects.create(
        alias="later", declared_on=START.date(), source="web", receipt_hash="f" * 64
    )
    assert later.pk == COUNT + 2
    linked = old.get_model("registry", "DeclarationOrganisation").objects.filter(
        declaration__alias="alias 1"
    )
    assert sorted(linked.values_list("code", flat=True)) == ["league", "party"]
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
