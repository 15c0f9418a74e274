"""Writes for calling: claims under a lease, releases, outcomes and what follows them."""

from __future__ import annotations

import fcntl
import functools
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from phonebank.accounts.models import CallerStatus, Membership, Role, caller_standing
from phonebank.audit.services import log_action, log_action_from
from phonebank.calling import selectors
from phonebank.calling.models import CallAttempt, ClaimWindow, Outcome, Target, TargetStatus
from phonebank.campaigns.models import Campaign, PlaybookEntry, RetryRule
from phonebank.contacts.models import Contact, DoNotCall
from phonebank.contacts.services import dnc_add
from phonebank.dashboards.services import queue_dry_note, rollups_add, rollups_add_from
from phonebank.lib import rawsql
from phonebank.lib.errors import DomainError
from phonebank.registry.models import Source
from phonebank.registry.services import declaration_record

CALLBACK_MAX_DAYS = 60


class LeaseLost(DomainError):
    """The caller does not hold this contact (any more): someone else has it."""


class NotApproved(DomainError):
    """A caller waiting for approval in the campaign, or suspended there or by an admin: no
    real contact, no outcome."""


def _check_approved(caller, status: str | None) -> None:
    """NotApproved unless the caller is approved in the campaign whose membership has
    ``status`` (None: no membership there). Approval elsewhere counts for nothing."""
    standing = caller_standing(caller, status)
    if standing == CallerStatus.APPROVED:
        return
    if caller.suspended:
        raise NotApproved(_("Your account is suspended. Ask your coordinator."))
    if standing == CallerStatus.SUSPENDED:
        raise NotApproved(_("You are suspended in this campaign. Ask its coordinator."))
    raise NotApproved(_("A coordinator has not approved your account yet. Meanwhile, practise."))


def _membership_of(campaign, caller, given: Membership | None) -> Membership | None:
    """The caller's membership in the campaign: ``given`` if the caller's views loaded it
    already (checked to be the right one), else read. Staff need none."""
    if given is not None:
        if given.campaign_id != campaign.pk or given.user_id != caller.pk:
            raise ValueError("the membership given is not this caller's in this campaign")
        return given
    if caller.role != Role.CALLER:
        return None
    return Membership.objects.filter(campaign=campaign, user=caller).first()


class RateLimited(DomainError):
    """Too many claims in the last minute."""


_local_writer = threading.Lock()
_lock_files: dict[tuple[int, str], int] = {}  # (process, lock path) → open descriptor


def _lock_fd(database: str) -> int | None:
    """This process's descriptor of the lock file beside an SQLite database file, if any."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None  # an in-memory database lives in one process: the thread lock suffices
    key = (os.getpid(), f"{database}-writers.lock")
    if key not in _lock_files:
        _lock_files[key] = os.open(key[1], os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    return _lock_files[key]


@contextmanager
def _writers_queue():
    """On SQLite, make calling's write transactions wait their turn in a queue.

    SQLite lets one writer in at a time, and a writer that finds the database locked sleeps
    in growing steps (1, 2, 5 … 100 ms) before it looks again, so under load most of the
    time is spent asleep while the lock is free. Here the threads of a process queue on a
    lock, and the processes on an flock() of a file beside the database; both wake the next
    waiter as soon as the holder is done. PostgreSQL needs none of this (rows are locked with
    SKIP LOCKED), and inside an outer transaction it is too late to queue.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with _local_writer:
        fd = _lock_fd(str(connection.settings_dict["NAME"]))
        if fd is None:
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def _queued_atomic(func):
    """transaction.atomic, entered after _writers_queue() lets this thread in."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with _writers_queue(), transaction.atomic():
            return func(*args, **kwargs)

    return wrapper


@dataclass
class Claim:
    target: Target
    renewed: bool  # the caller already held it


SCRAPE_MIN_CLAIMS = 20  # claims in a day before the ratio is judged
SCRAPE_RATIO = 0.5  # outcomes per claim below which a caller looks like a scraper


def _check_rate(caller, now: datetime) -> None:
    """The anti-scraping limits on new claims: per minute, per day, and an alert to the
    coordinators (audit entry, flag on the People page) when a caller claims far more
    contacts than they record outcomes for."""
    limit = settings.PHONEBANK_CLAIM_RATE_PER_MIN
    cap = settings.PHONEBANK_CLAIM_DAILY_CAP
    if not limit and not cap:
        return
    window, _created = ClaimWindow.objects.select_for_update().get_or_create(
        caller=caller, defaults={"window_start": now, "claims": 0}
    )
    if now - window.window_start >= timedelta(minutes=1):
        window.window_start, window.claims = now, 0
    today = now.astimezone(UTC).date()
    if window.day != today:
        window.day, window.day_claims = today, 0
    if limit and window.claims >= limit:
        raise RateLimited(
            _(
                "Too many contacts claimed in the last minute; record an outcome "
                "for the one you have, then try again."
            )
        )
    if cap and window.day_claims >= cap:
        raise RateLimited(
            _(
                "You have claimed %(n)d contacts today, the daily limit. Thank you; come back tomorrow."
            )
            % {"n": cap}
        )
    window.claims += 1
    window.day_claims += 1
    if (
        window.flagged_on != today
        and window.day_claims >= SCRAPE_MIN_CLAIMS
        and window.day_claims % 10 == 0
    ):
        _scraping_check(caller, window, today)
    window.save()


def _scraping_check(caller, window: ClaimWindow, today) -> None:
    start = datetime(today.year, today.month, today.day, tzinfo=UTC)
    outcomes = CallAttempt.objects.filter(caller=caller, ended_at__gte=start).count()
    if outcomes < window.day_claims * SCRAPE_RATIO:
        window.flagged_on = today
        window.flag_claims, window.flag_outcomes = window.day_claims, outcomes
        log_action(
            caller,
            "calling.scraping.suspected",
            actor=None,
            claims=window.day_claims,
            outcomes=outcomes,
        )


@functools.lru_cache(maxsize=64)
def _candidate_queries(vendor: str, zones: int, trusted: bool) -> tuple[str, ...]:
    """The candidate queries of ``selectors.candidates`` in their order, each ``SELECT t.id
    … LIMIT 1`` (``FOR UPDATE OF t SKIP LOCKED`` on PostgreSQL); none without open zones.

    ``selectors.candidates`` stays the readable statement of the rules; keep the two in
    step. Built with the ORM they cost about 1.5 ms of query compiling per claim, all of it
    inside the write transaction. Others' callbacks past the grace period are only for
    ``trusted`` callers. Parameters: ``_candidate_params``.
    """
    if not zones:
        return ()
    # Only quoted table names and placeholders are put into the text; values are parameters.
    q = connection.ops.quote_name
    t, c = q(Target._meta.db_table), q(Contact._meta.db_table)
    dnc = q(DoNotCall._meta.db_table)
    lock = " FOR UPDATE OF t SKIP LOCKED" if vendor == "postgresql" else ""
    free = "(t.lease_holder_id IS NULL OR t.lease_expires_at <= %s)"
    base = (
        f"SELECT t.id FROM {t} t INNER JOIN {c} k ON t.contact_id = k.id "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        f"WHERE t.campaign_id = %s AND k.timezone IN ({', '.join(['%s'] * zones)}) "
        f"AND {free} AND NOT (k.blind_index IN (SELECT d.blind_index FROM {dnc} d))"
    )
    # Contacts reserved for trusted callers: not for others (their own callbacks aside).
    others = base if trusted else f"{base} AND NOT t.for_trusted"
    queries = [
        f"{base} AND t.status = %s AND t.callback_caller_id = %s AND t.next_call_at <= %s "
        "ORDER BY t.next_call_at ASC, t.id ASC",
        # Others' callbacks past the grace period, and at once those whose caller is gone
        # (suspended or removed: callbacks_hand_over).
        f"{others} AND t.status = %s AND (t.next_call_at <= %s "
        "OR (t.callback_caller_id IS NULL AND t.next_call_at <= %s)) "
        "ORDER BY t.next_call_at ASC, t.id ASC",
        f"{others} AND t.status = %s AND (t.next_call_at IS NULL OR t.next_call_at <= %s) "
        "ORDER BY t.next_call_at ASC NULLS FIRST, t.id ASC",
    ]
    if not trusted:
        del queries[1]
    return tuple(f"{query} LIMIT 1{lock}" for query in queries)


def _candidate_params(campaign, caller, trusted: bool, now: datetime, zones) -> list:
    """The parameters of ``_candidate_queries(…, len(zones), trusted)``, all in turn."""
    adapt = connection.ops.adapt_datetimefield_value
    at = adapt(now)
    grace = adapt(now - timedelta(minutes=campaign.callback_grace_minutes))
    steps = [
        [TargetStatus.CALLBACK.value, caller.pk, at],
        [TargetStatus.CALLBACK.value, grace, at],
        [TargetStatus.OPEN.value, at],
    ]
    if not trusted:
        del steps[1]
    return [p for step in steps for p in (campaign.pk, *zones, at, *step)] if zones else []


def _approved_sql(vetted: bool) -> str:
    """``vetted`` (callers): a lease is only written while the caller is still approved in
    the campaign and not suspended by an admin, read in the statement that writes it, so a
    suspension that lands between the check before it and the claim still holds.
    Parameters: ``_approved_params``."""
    if not vetted:
        return ""
    q = connection.ops.quote_name
    m, u = q(Membership._meta.db_table), q(get_user_model()._meta.db_table)
    return (
        f" AND EXISTS (SELECT 1 FROM {m} m INNER JOIN {u} u ON u.id = m.user_id "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        "WHERE m.campaign_id = %s AND m.user_id = %s AND m.status = %s AND u.suspended = %s)"
    )


def _approved_params(campaign, caller, vetted: bool) -> list:
    return [campaign.pk, caller.pk, CallerStatus.APPROVED.value, False] if vetted else []


@functools.lru_cache(maxsize=64)
def _claim_statements(
    vendor: str, zones: int, trusted: bool = True, vetted: bool = False
) -> tuple[str, str]:
    """SQL for a claim: renew the lease the caller holds, else lease the first free contact
    of the candidate queries (``_candidate_queries``), taken in turn in one ``COALESCE``.

    SQLite: (renew, lease), each ``UPDATE … RETURNING id``, run one after the other.

    PostgreSQL: (lock, claim). ``lock`` locks the caller's row, so that one caller's
    crossing claims (a double click, two tabs) wait for each other: each would otherwise
    find nothing held and lease a contact of its own; the second now finds the first one's
    lease and renews it (SQLite already runs claims one at a time). It must be a statement
    of its own: the claim after it then reads the rows as they are once the lock is ours.
    ``claim`` renews or leases in one statement and answers the row with its contact and
    whether it was a renewal, so that the contact needs no read of its own.
    """
    q = connection.ops.quote_name
    t = q(Target._meta.db_table)
    candidates = [f"({query})" for query in _candidate_queries(vendor, zones, trusted)]
    free = "(lease_holder_id IS NULL OR lease_expires_at <= %s)"
    approved = _approved_sql(vetted)
    held = (
        f"SELECT t.id FROM {t} t "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        "WHERE t.campaign_id = %s AND t.lease_holder_id = %s AND t.lease_expires_at > %s "
        "ORDER BY t.id ASC LIMIT 1"
    )
    if vendor != "postgresql":
        renew = f"UPDATE {t} SET lease_expires_at = %s WHERE id = ({held}) RETURNING id"  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        lease = (
            f"UPDATE {t} SET lease_holder_id = %s, lease_expires_at = %s, leased_at = %s "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
            f"WHERE id = COALESCE({', '.join(candidates)}) AND {free}{approved} RETURNING id"
        )
        return renew, lease
    user = q(get_user_model()._meta.db_table)
    target, contact = rawsql.columns(Target, t), rawsql.columns(Contact, "k")
    # The same statement also sets plan_cache_mode for the rest of the transaction: left to
    # itself, PostgreSQL plans the claim afresh on every run (its generic plan's estimate
    # looks worse than a custom one's), about 0.6 ms of its CPU per claim. The generic plan
    # walks the same indexes as a custom one (docs/benchmarks.md, "Claims").
    lock = (
        "SELECT set_config('plan_cache_mode', 'force_generic_plan', true) "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        f"FROM {user} WHERE id = %s FOR NO KEY UPDATE"
    )
    mine = "id IN (SELECT id FROM held)"
    claim = (
        f"WITH held AS ({held}), chosen AS ("  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        f"UPDATE {t} SET lease_holder_id = %s, lease_expires_at = %s, "
        f"leased_at = CASE WHEN {mine} THEN leased_at ELSE %s END "
        f"WHERE id = COALESCE({', '.join(['(SELECT id FROM held)', *candidates])}) "
        f"AND ({mine} OR ({free}{approved})) RETURNING {target.sql}) "
        f"SELECT {rawsql.columns(Target, 'chosen').sql}, {contact.sql}, "
        "chosen.id IN (SELECT id FROM held) FROM chosen "
        f"INNER JOIN {q(Contact._meta.db_table)} k ON k.id = chosen.contact_id"
    )
    return lock, claim


def _lease(
    campaign, caller, trusted: bool, now: datetime, lease_until: datetime, zones
) -> tuple[int | None, bool, Target | None]:
    """(target id, renewed, the target with its contact when read already): the contact
    held, its lease renewed, else the next one leased. ``trusted``: the caller takes
    others' callbacks and reserved contacts here."""
    adapt = connection.ops.adapt_datetimefield_value
    at, until = adapt(now), adapt(lease_until)
    vetted = caller.role == Role.CALLER
    first, then = _claim_statements(connection.vendor, len(zones), trusted, vetted)
    held = [campaign.pk, caller.pk, at]
    candidates = _candidate_params(campaign, caller, trusted, now, zones)
    approved = _approved_params(campaign, caller, vetted)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(first, [until, *held])
            row = cursor.fetchone()
            if row is not None:
                return row[0], True, None
            if not zones:
                return None, False, None
            cursor.execute(then, [caller.pk, until, at, *candidates, at, *approved])
            row = cursor.fetchone()
            return (row[0] if row is not None else None), False, None
        cursor.execute(first, [caller.pk])
        cursor.execute(then, [*held, caller.pk, until, at, *candidates, at, *approved])
        row = cursor.fetchone()
    if row is None:
        return None, False, None
    target, contact = rawsql.columns(Target, "chosen"), rawsql.columns(Contact, "k")
    found = target.load(row)
    found.contact = contact.load(row, target.width)
    return found.pk, bool(row[-1]), found


def _takes_others_callbacks(caller, membership: Membership | None) -> bool:
    """Callers trusted in this campaign (and staff) also take over other callers' callbacks
    after the grace period, and the contacts reserved for trusted callers; everyone keeps
    the callbacks they agreed themselves. Trust in another campaign counts for nothing."""
    return caller.role != Role.CALLER or (membership is not None and membership.trusted)


def target_claim(
    *, campaign, caller, membership: Membership | None = None, now: datetime | None = None
) -> Claim | None:
    """Lease the next contact this caller may call now, or None when nobody may be called.

    Only a caller approved in this campaign gets one (NotApproved otherwise). ``membership``:
    the caller's in this campaign, when already loaded (the API and the workspace read it
    with the campaign); read here otherwise.

    A caller who holds a contact gets the same one back, with its lease renewed: nobody
    hoards. On SQLite the transaction takes the write lock at its start (IMMEDIATE), so
    claims run one at a time; on PostgreSQL rows are locked with SKIP LOCKED, so concurrent
    claims pass each other. Either way the final UPDATE only succeeds on a free row. The
    rate limits count every claim but a renewal; one they refuse is rolled back whole.
    """
    membership = _membership_of(campaign, caller, membership)
    _check_approved(caller, membership.status if membership is not None else None)
    trusted = _takes_others_callbacks(caller, membership)
    now = now or timezone.now()
    lease_until = now + timedelta(minutes=campaign.lease_minutes)
    zones = selectors.open_zones(campaign, now)  # cached: read before queueing for the lock
    with _writers_queue(), transaction.atomic():
        pk, renewed, found = _lease(campaign, caller, trusted, now, lease_until, zones)
        if not renewed:
            _check_rate(caller, now)  # RateLimited undoes the lease just written
    if pk is None:
        queue_dry_note(campaign=campaign, trusted=trusted, now=now)
        return None
    # The lease is ours now: on SQLite the contact is read after the commit, outside the
    # write lock; PostgreSQL's claim statement answered it.
    return Claim(found or selectors.target_with_contact(pk), renewed=renewed)


def _held_by(target: Target, caller, now: datetime) -> Target:
    """The target locked for update, if this caller holds it; LeaseLost otherwise.

    A lease that ran out still belongs to its caller until someone else claims the contact.
    """
    # Lock the target row only: without OF, PostgreSQL would also lock the joined campaign
    # and contact rows FOR UPDATE, and every outcome in a campaign would wait for the last.
    locked = (
        Target.objects.select_for_update(of=("self",))
        .select_related("contact", "campaign")
        .get(pk=target.pk)
    )
    if locked.lease_holder_id != caller.pk:
        raise LeaseLost(_("Someone else has this contact now; take the next one."))
    return locked


@_queued_atomic
def lease_renew(*, target: Target, caller, now: datetime | None = None) -> Target:
    """Keep holding a contact while the workspace is open."""
    now = now or timezone.now()
    locked = _held_by(target, caller, now)
    locked.lease_expires_at = now + timedelta(minutes=locked.campaign.lease_minutes)
    locked.save(update_fields=["lease_expires_at"])
    return locked


@_queued_atomic
def target_release(*, target: Target, caller, now: datetime | None = None) -> None:
    """Give a contact back to the queue without recording a call."""
    now = now or timezone.now()
    locked = _held_by(target, caller, now)
    Target.objects.filter(pk=locked.pk).update(
        lease_holder=None, lease_expires_at=None, leased_at=None
    )


def _callback_time(value: datetime | None, now: datetime) -> datetime:
    if value is None:
        raise DomainError(_("Give the time of the callback."))
    if timezone.is_naive(value):
        raise DomainError(_("The callback time needs a time zone."))
    if value <= now:
        raise DomainError(_("The callback time is in the past."))
    if value > now + timedelta(days=CALLBACK_MAX_DAYS):
        raise DomainError(
            _("A callback can be at most %(days)d days ahead.") % {"days": CALLBACK_MAX_DAYS}
        )
    return value


def _next_state(
    target: Target,
    caller,
    outcome: str,
    callback_at: datetime | None,
    now: datetime,
    retry: _Retry | None = None,
) -> dict:
    """What recording ``outcome`` on target sets on its row (reads only; DomainError if the
    rules refuse). The lease ends whatever the outcome. ``retry``: the campaign's retry rule
    and earlier attempts as _outcome_facts read them; read here when not given."""
    state = {
        "attempts": target.attempts + 1,
        "last_outcome": outcome,
        "callback_caller": None,
        "next_call_at": None,
        "lease_holder": None,
        "lease_expires_at": None,
        "leased_at": None,
    }
    if outcome == Outcome.CALLBACK:
        state["status"] = TargetStatus.CALLBACK
        state["next_call_at"] = _callback_time(callback_at, now)
        state["callback_caller"] = caller
    elif outcome in (Outcome.DECLARED, Outcome.REFUSED):
        state["status"] = TargetStatus.DONE
    elif outcome == Outcome.DO_NOT_CALL:
        state["status"] = TargetStatus.DNC
    elif outcome in (Outcome.WRONG_NUMBER, Outcome.INVALID_NUMBER):
        state["status"] = TargetStatus.CLOSED
    else:
        if retry is None:
            rule = RetryRule.objects.filter(campaign_id=target.campaign_id, outcome=outcome)
            retry = _Retry(
                rule.values_list("delay_minutes", "max_attempts").first(),
                CallAttempt.objects.filter(target=target, outcome=outcome).count(),
            )
        times = retry.earlier + 1
        if retry.rule is None or times >= retry.rule[1]:
            state["status"] = TargetStatus.EXHAUSTED if retry.rule else TargetStatus.DONE
        else:
            state["status"] = TargetStatus.OPEN
            state["next_call_at"] = now + timedelta(minutes=retry.rule[0])
    return state


@dataclass
class _Retry:
    rule: tuple[int, int] | None  # the campaign's (delay_minutes, max_attempts) for an outcome
    earlier: int  # attempts on the target that ended with this outcome before


@dataclass
class _Facts:
    target: Target  # the row as it is now
    on_dnc: bool  # its number is on the do-not-call list
    retry: _Retry
    province: str  # the contact's, for the rollups
    zone: str  # the contact's time zone, else the campaign's
    member_status: str | None  # the caller's vetting in the target's campaign (None: no member)
    outcome: str  # what they were read for: the retry rule is this outcome's
    caller_id: int  # and whose membership


@functools.lru_cache(maxsize=8)
def _outcome_facts_sql(vendor: str) -> tuple[str, rawsql.Columns]:
    target = rawsql.columns(Target, "t")
    sql = (
        f"SELECT {target.sql}, "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
        f"EXISTS (SELECT 1 FROM {rawsql.table(DoNotCall)} d WHERE d.blind_index = k.blind_index), "
        "r.delay_minutes, r.max_attempts, "
        f"(SELECT COUNT(*) FROM {rawsql.table(CallAttempt)} a "
        "WHERE a.target_id = t.id AND a.outcome = %s), "
        "k.province, k.timezone, c.default_timezone, m.status "
        f"FROM {rawsql.table(Target)} t "
        f"INNER JOIN {rawsql.table(Contact)} k ON k.id = t.contact_id "
        f"INNER JOIN {rawsql.table(Campaign)} c ON c.id = t.campaign_id "
        f"LEFT OUTER JOIN {rawsql.table(RetryRule)} r "
        "ON r.campaign_id = t.campaign_id AND r.outcome = %s "
        f"LEFT OUTER JOIN {rawsql.table(Membership)} m "
        "ON m.campaign_id = t.campaign_id AND m.user_id = %s WHERE t.id = %s"
    )
    return sql, target


def _outcome_facts(pk: int, outcome: str, caller_id: int) -> _Facts:
    """What an outcome is worked out from, in one statement: the target row as it is now,
    whether its number is on the do-not-call list, the campaign's retry rule for
    ``outcome`` with the attempts that ended so on this target before, the contact's
    province and time zone (for the dashboards' rollups), and the status of the caller's
    membership in the target's campaign.

    Hand-written (lib/rawsql.py says why); the same reads as ``_next_state`` makes through
    the ORM when it is not given them. Target.DoesNotExist when there is no such target.
    """
    sql, target = _outcome_facts_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [outcome, outcome, caller_id, pk])
        row = cursor.fetchone()
    if row is None:
        raise Target.DoesNotExist(f"no target {pk}")
    on_dnc, delay, most, earlier, province, zone, default_zone, status = row[target.width :]
    rule = (delay, most) if delay is not None else None
    return _Facts(
        target.load(row),
        bool(on_dnc),
        _Retry(rule, earlier),
        province,
        zone or default_zone,
        status,
        outcome,
        caller_id,
    )


def outcome_facts_for_member(user, pk: int, outcome: str) -> _Facts | None:
    """The facts ``outcome_record`` works ``outcome`` out from, for a target in one of the
    user's campaigns (``accounts.permissions.target_for_member``'s rule: a member there,
    or an admin), else None (its existence is not told). One statement: the membership
    is one of the facts. The API's outcome passes them on to ``outcome_record``."""
    if not user.is_authenticated:
        return None
    try:
        facts = _outcome_facts(pk, outcome, user.pk)
    except Target.DoesNotExist:
        return None
    if facts.member_status is None and not user.is_admin:
        return None
    return facts


def _as_read(current: Target, caller) -> dict:
    """The row as the outcome was worked out from it: held by this caller, with the
    attempts counted then (``rawsql.update``'s where)."""
    return {"id": current.pk, "lease_holder": caller, "attempts": current.attempts}


def _new_call(current: Target, caller, started: datetime, now: datetime, outcome, notes):
    return CallAttempt(
        target=current,
        campaign_id=current.campaign_id,
        caller=caller,
        started_at=started,
        ended_at=now,
        outcome=outcome,
        notes=notes,
    )


def _counted(attempt: CallAttempt, facts: _Facts, playbook: list[int]) -> dict:
    """What a call adds to the dashboards' rollups (``rollups_add``'s arguments)."""
    return {
        "campaign_id": attempt.campaign_id,
        "caller_id": attempt.caller_id,
        "ended_at": attempt.ended_at,
        "outcome": attempt.outcome,
        "province": facts.province,
        "zone": facts.zone,
        "objections": playbook,
    }


def _record_at_once(
    current: Target,
    caller,
    state: dict,
    attempt: CallAttempt,
    playbook: list[int],
    facts: _Facts,
) -> CallAttempt | None:
    """PostgreSQL: every write of an outcome but a declaration's or a do-not-call's in one
    statement (a data-modifying WITH, atomic by itself), so no transaction of round trips:
    the row updated if this caller still holds it with the attempts counted as read; then,
    only if it was, the call, its objections, the dashboards' rollups and the audit entry.
    The saved attempt, or None if the row had changed (nothing is written then)."""
    update, params = rawsql.update_sql(Target, _as_read(current, caller), state)
    parts = [f"t AS ({update} RETURNING id)"]
    call, call_params = rawsql.insert_from(attempt, "t")
    parts.append(f"a AS ({call})")
    params += call_params
    if playbook:
        through = CallAttempt.objections.through._meta
        q = connection.ops.quote_name
        parts.append(
            f"o AS (INSERT INTO {q(through.db_table)} "  # noqa: S608 - identifiers from model metadata, values as parameters  # nosec B608
            f"({q(through.get_field('callattempt').column)}, "
            f"{q(through.get_field('playbookentry').column)}) SELECT a.id, v.entry FROM a, "
            f"(VALUES {', '.join(['(%s::bigint)'] * len(playbook))}) AS v (entry))"
        )
        params += playbook
    rollups = rollups_add_from(source="t", **_counted(attempt, facts, playbook))
    for n, (sql, values) in enumerate(rollups):
        parts.append(f"r{n} AS ({sql})")
        params += values
    entry, entry_params = log_action_from(
        CallAttempt, "a", "calling.outcome.recorded", actor=caller, outcome=attempt.outcome
    )
    parts.append(f"l AS ({entry})")
    params += entry_params
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} SELECT id FROM a", params)  # noqa: S608 - parts built above from model metadata, values as parameters  # nosec B608
        row = cursor.fetchone()
    if row is None:
        return None
    attempt.pk = row[0]
    attempt._state.adding, attempt._state.db = False, connection.alias
    return attempt


def outcome_record(
    *,
    target: Target,
    caller,
    outcome: str,
    notes: str = "",
    callback_at: datetime | None = None,
    objections: list[int] | None = None,
    declaration: dict | None = None,
    now: datetime | None = None,
    facts: _Facts | None = None,
) -> tuple[CallAttempt, str | None]:
    """Ends the caller's lease on target, records the call and schedules what comes next.

    Returns the attempt and, for a declaration, its receipt code (to read to the person;
    it is not stored). Raises NotApproved unless the caller is approved in the target's
    campaign, LeaseLost when someone else holds the contact, DomainError for anything the
    rules refuse; nothing is written then. ``facts``: what ``outcome_facts_for_member``
    read for this target, caller and outcome, when the caller's view read them already.

    The reads and checks come first, outside the write transaction; inside it, the row is
    updated only if this caller still holds it with the attempts counted as read (only the
    holder of a lease changes a leased contact). Should the row have changed meanwhile, it
    is read again, locked, and the outcome worked out afresh.
    """
    now = now or timezone.now()
    if outcome not in Outcome.values:
        raise DomainError(_("Unknown outcome %(code)s.") % {"code": outcome})
    if len(notes) > 5000:
        raise DomainError(_("Notes may have at most 5,000 characters."))
    # The row as it is now (its contact and campaign load if needed), and the rest of what
    # the outcome is worked out from, the caller's standing in its campaign included.
    if facts is None:
        facts = _outcome_facts(target.pk, outcome, caller.pk)
    elif (facts.target.pk, facts.outcome, facts.caller_id) != (target.pk, outcome, caller.pk):
        raise ValueError("the facts given were read for another target, outcome or caller")
    _check_approved(caller, facts.member_status)
    current, on_dnc, retry = facts.target, facts.on_dnc, facts.retry
    if current.lease_holder_id != caller.pk:
        raise LeaseLost(_("Someone else has this contact now; take the next one."))
    playbook = (
        list(
            PlaybookEntry.objects.filter(
                campaign_id=current.campaign_id, pk__in=objections
            ).values_list("pk", flat=True)
        )
        if objections
        else []
    )
    if len(playbook) != len(set(objections or [])):
        raise DomainError(_("Unknown objection for this campaign."))
    allowed = (
        set(current.campaign.organisations.values_list("code", flat=True))
        if outcome == Outcome.DECLARED
        else set()
    )
    state = _next_state(current, caller, outcome, callback_at, now, retry)
    started = current.leased_at or now
    if state["status"] != TargetStatus.DNC and on_dnc:
        # Put on the list by another call while this one went on: it stays off the queue.
        state.update(status=TargetStatus.DNC, next_call_at=None, callback_caller=None)

    if connection.vendor == "postgresql" and outcome not in (
        Outcome.DECLARED,
        Outcome.DO_NOT_CALL,
    ):
        call = _new_call(current, caller, started, now, outcome, notes)
        attempt = _record_at_once(current, caller, state, call, playbook, facts)
        if attempt is not None:
            for field, value in state.items():
                setattr(current, field, value)
            return attempt, None
        # The row changed meanwhile: below, it is locked and the outcome worked out afresh.

    with _writers_queue(), transaction.atomic():
        updated = rawsql.update(Target, _as_read(current, caller), state)
        if not updated:
            current = _held_by(current, caller, now)
            state = _next_state(current, caller, outcome, callback_at, now)
            started = current.leased_at or now
            Target.objects.filter(pk=current.pk).update(**state)
        for field, value in state.items():
            setattr(current, field, value)

        receipt = None
        if outcome == Outcome.DECLARED:
            declaration = declaration or {}
            _decl, receipt = declaration_record(
                alias=declaration.get("alias", ""),
                organisations=list(declaration.get("organisations") or []),
                allowed=allowed,
                source=Source.PHONE,
                consent=declaration.get("consent") is True,
                province=declaration.get("province", "") or "",
            )
        elif outcome == Outcome.DO_NOT_CALL:
            dnc_add(phone=current.contact.phone, actor=caller, reason="asked on a call")
        attempt = rawsql.insert(_new_call(current, caller, started, now, outcome, notes))
        if playbook:
            attempt.objections.set(playbook)
        rollups_add(**_counted(attempt, facts, playbook))
        log_action(attempt, "calling.outcome.recorded", actor=caller, outcome=outcome)
    return attempt, receipt


@_queued_atomic
def leases_release_all(*, caller, campaign=None) -> int:
    """Return every contact a caller holds (in ``campaign`` only, when given) to the queue
    at once: on suspension or removal. The count released."""
    held = Target.objects.filter(lease_holder=caller)
    if campaign is not None:
        held = held.filter(campaign=campaign)
    return held.update(lease_holder=None, lease_expires_at=None, leased_at=None)


@_queued_atomic
def callbacks_hand_over(*, caller, campaign=None) -> int:
    """The callbacks a caller agreed (in ``campaign`` only, when given) stop waiting for
    them: from their agreed time they go to trusted callers and staff, without the grace
    period. On suspension or removal. The count handed over."""
    agreed = Target.objects.filter(status=TargetStatus.CALLBACK, callback_caller=caller)
    if campaign is not None:
        agreed = agreed.filter(campaign=campaign)
    return agreed.update(callback_caller=None)


@transaction.atomic
def targets_reserve(
    *, campaign, actor, for_trusted: bool, province: str = "", status: str = ""
) -> int:
    """Reserve a campaign's contacts (all, or those of a province and/or status) for trusted
    callers, or open them to everyone again. Audited with the count."""
    qs = Target.objects.filter(campaign=campaign)
    if province:
        qs = qs.filter(contact__province=province)
    if status in TargetStatus.values:
        qs = qs.filter(status=status)
    changed = Target.objects.filter(pk__in=qs.exclude(for_trusted=for_trusted).values("pk")).update(
        for_trusted=for_trusted
    )
    log_action(
        campaign,
        "calling.targets.reserved" if for_trusted else "calling.targets.opened",
        actor=actor,
        province=province,
        status=status,
        count=changed,
    )
    return changed
