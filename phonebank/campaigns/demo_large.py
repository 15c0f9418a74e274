"""The large demo (`phonebank demo --size large`): a realistic synthetic history in the demo
campaign, so anyone can see the dashboards, exports and the registry under load.

About 1,000,000 contacts (sealed exactly as an import seals them) and their targets in the
demo campaign; 5,000,000 calls over the last 120 days by 72 volunteers, simulated as the
queue would have handed them out (demo_history.py: calling hours, retries, callbacks,
objections, notes); the dashboards' rollups of those calls; do-not-call entries for those
who asked; 100,000 declarations sealed into the transparency log day by day. No real person
or number: names are random combinations of common characters, numbers random within
China's numbering plan.

Fast (demo_bulk.py): batches of a few thousand rows per transaction, raw INSERTs on SQLite,
COPY on PostgreSQL, written on a thread of their own while the next batch is prepared; the
history is simulated in a second process while the contacts are sealed and written. Once:
each step is recorded in the audit log (``demo.large.*`` on the demo campaign), so a second
run loads nothing, and a run interrupted part-way is carried on by the next (the simulation
is deterministic, every call has its id planned).

Not made: an audit entry per call (5,000,000 of them would say nothing the calls do not).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import multiprocessing
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from django.db import transaction

from phonebank.accounts.models import CallerStatus, Role, User
from phonebank.accounts.services import membership_add
from phonebank.audit.models import LogEntry
from phonebank.audit.services import log_action
from phonebank.calling.models import CallAttempt, Target, TargetStatus
from phonebank.campaigns import demo, demo_bulk, demo_history
from phonebank.campaigns.demo_history import DAY, SHANGHAI, Caller, History
from phonebank.campaigns.models import Campaign, PlaybookEntry, RetryRule
from phonebank.contacts.models import Contact, DoNotCall
from phonebank.contacts.pipeline import details_json
from phonebank.contacts.services import CONTACT_INSERT_COLUMNS, campaign_zones_note
from phonebank.dashboards import rollups
from phonebank.lib import phones
from phonebank.lib.fields import keyring
from phonebank.registry.models import (
    Declaration,
    DeclarationOrganisation,
    DeclarationStatus,
    Source,
    Withdrawal,
)
from phonebank.registry.services import receipt_hash, receipt_new, registry_publish
from phonebank.tlog.models import Checkpoint

CONTACTS, ATTEMPTS, DECLARATIONS = 1_000_000, 5_000_000, 100_000
DAYS = 120
CALLERS = 72  # the three demo callers who can sign in, and 69 volunteers who cannot
SEED = 1999
BATCH = 5000  # rows of the main table per write transaction

# Steps recorded in the audit log, on the demo campaign.
STARTED = "demo.large.started"  # with the plan
INDEXES = "demo.large.indexes_dropped"  # with the statements that build them again
CALLS = "demo.large.calls_written"  # indexes built again, rollups written
SEALED_DAY = "demo.large.day_sealed"  # with the day
LOADED = "demo.large.loaded"  # with the counts

# Notes callers wrote, by outcome (demo_history.NOTES says how often); sealed like any note.
NOTE_TEXTS = {
    demo_history.CALLBACK: (
        "约了明天下午再打。",
        "Asked to be called back after work.",
        "说周末有空，周六上午再联系。",
    ),
    demo_history.LISTENED: (
        "听得很认真，想再考虑一下。",
        "Listened to the end; wants to think it over.",
        "问了化名怎么用，下次再聊。",
    ),
    demo_history.DECLARED: (
        "用自己选的化名声明，三退。",
        "Chose an alias and agreed; thanked us.",
        "声明退团、退队。",
    ),
    demo_history.REFUSED: (
        "客气地拒绝了。",
        "Not interested; polite.",
        "说不想谈这个。",
    ),
}


@dataclass(frozen=True)
class Plan:
    """What one large demo holds; kept in its ``demo.large.started`` audit entry."""

    contacts: int
    attempts: int
    declarations: int
    days: int
    callers: int
    seed: int
    end: int  # epoch seconds: the history ends here (when the load began)
    attempt_base: int = 0  # the calls take ids attempt_base+1 .. attempt_base+attempts

    @classmethod
    def sized(cls, scale: float, end: int) -> Plan:
        return cls(
            contacts=max(50, round(CONTACTS * scale)),
            attempts=max(200, round(ATTEMPTS * scale)),
            declarations=max(10, round(DECLARATIONS * scale)),
            days=DAYS,
            callers=CALLERS,
            seed=SEED,
            end=end,
        )


@dataclass(frozen=True)
class Loaded:
    contacts: int
    attempts: int
    declarations: int
    withdrawals: int
    seconds: float
    already: bool = False  # loaded by an earlier run: nothing was written now


class _Progress:
    """Progress lines on a rich Progress, or nothing."""

    def __init__(self, bar=None):
        self.bar = bar
        self.tasks: dict[str, Any] = {}

    def start(self, name: str, total: int | None) -> None:
        if self.bar is not None:
            self.tasks[name] = self.bar.add_task(name, total=total)

    def advance(self, name: str, by: int = 1) -> None:
        if self.bar is not None:
            self.bar.advance(self.tasks[name], by)

    def done(self, name: str) -> None:
        if self.bar is not None:
            task = self.tasks[name]
            total = self.bar.tasks[task].total or 1
            self.bar.update(task, total=total, completed=total)


# -- entry point ----------------------------------------------------------------------------


def demo_large_load(*, scale: float = 1.0, progress=None) -> Loaded:
    """Load the large demo's history into the demo campaign, once (after ``demo_load``).

    ``scale`` shrinks every count alike (tests run it tiny). A run interrupted part-way is
    carried on by the next with the plan it started with, whatever ``scale`` says then.
    """
    began = time.monotonic()
    report = _Progress(progress)
    campaign = Campaign.objects.get(slug=demo.SLUG)
    loaded = _marker(campaign, LOADED)
    if loaded is not None:
        d = loaded.data
        return Loaded(d["contacts"], d["attempts"], d["declarations"], d["withdrawals"], 0, True)
    plan = _plan(campaign, scale)
    callers = demo_history.callers_plan(plan.callers, plan.days, plan.seed)
    retry = {
        demo_history.OUTCOMES.index(r.outcome): (r.delay_minutes, r.max_attempts)
        for r in RetryRule.objects.filter(campaign=campaign)
        if r.outcome in demo_history.OUTCOMES
    }
    with demo_bulk.sqlite_bulk(), _simulation(plan, callers, retry) as history:
        report.start("volunteers", plan.callers)
        caller_ids = _volunteers(campaign, callers)
        report.done("volunteers")
        report.start("contacts", plan.contacts)
        people = list(synthetic_people(plan.contacts, plan.seed))
        contact_ids = _contacts(people, plan, report)
        numbers = [p.e164 for p in people]
        provinces = [p.place.province for p in people]
        # Noted before the targets are written: should the load stop half-way, no target
        # is left in a zone the claim does not ask about.
        campaign_zones_note(campaign.pk, {p.place.timezone for p in people})
        del people  # names are no longer needed
        report.start("history (simulated)", None)
        h = history.result()
        report.done("history (simulated)")
        report.start("targets", plan.contacts)
        target_ids = _targets(campaign, contact_ids, h, caller_ids, plan, report)
        report.start("calls", len(h))
        _calls(
            _Calls(campaign, h, numbers, provinces, caller_ids, contact_ids, plan),
            target_ids,
            report,
        )
        declared, withdrawn = _registry(campaign, h, provinces, plan, report)
    counts = {
        "contacts": plan.contacts,
        "attempts": len(h),
        "declarations": declared,
        "withdrawals": withdrawn,
    }
    seconds = round(time.monotonic() - began, 1)
    with transaction.atomic():
        log_action(campaign, LOADED, seconds=seconds, **counts)
    return Loaded(**counts, seconds=seconds)


def _markers(campaign: Campaign, action: str):
    return LogEntry.objects.filter(
        action=action, object_type=campaign._meta.label_lower, object_id=str(campaign.pk)
    ).order_by("id")


def _marker(campaign: Campaign, action: str) -> LogEntry | None:
    return _markers(campaign, action).last()


def _plan(campaign: Campaign, scale: float) -> Plan:
    """This load's plan: the one an interrupted run started with, or a new one (recorded,
    with the calls' ids reserved, before anything else is written)."""
    started = _marker(campaign, STARTED)
    if started is not None:
        return Plan(**started.data)
    plan = Plan.sized(scale, end=int(time.time()))
    with transaction.atomic():
        base = demo_bulk.reserve_ids(CallAttempt._meta.db_table, plan.attempts)
        plan = Plan(**{**asdict(plan), "attempt_base": base})
        log_action(campaign, STARTED, **asdict(plan))
    return plan


@contextlib.contextmanager
def _simulation(
    plan: Plan, callers: list[Caller], retry: dict
) -> Iterator[concurrent.futures.Future]:
    """The history, simulated in a process of its own while this one writes the contacts."""
    kwargs = {
        "targets": plan.contacts,
        "attempts": plan.attempts,
        "days": plan.days,
        "end": plan.end,
        "callers": callers,
        "retry": retry,
        "seed": plan.seed,
    }
    if plan.attempts < 100_000:  # starting a process costs more than it saves
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_result(demo_history.simulate(**kwargs))
        yield future
        return
    context = multiprocessing.get_context("spawn")  # demo_history imports no Django
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        yield pool.submit(demo_history.simulate, **kwargs)


# -- people ---------------------------------------------------------------------------------


class Person(NamedTuple):
    e164: str
    name: str
    organisation: str
    title: str
    place: phones.Place


def synthetic_people(n: int, seed: int) -> Iterator[Person]:
    """``n`` synthetic people with distinct mobile numbers across China's provinces.

    Numbers are random within ~n/50 random blocks of 10,000 numbers (a block is the first
    seven digits, all the geocoder keys on), so each block is geocoded once.
    """
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets  # nosec B311
    blocks: list[tuple[str, phones.Place]] = []
    while len(blocks) < max(200, n // 50):
        block = rng.choice(demo.MOBILE_PREFIXES) + f"{rng.randrange(10_000):04d}"
        number = phones.normalise(block + "0000", "CN")
        if isinstance(number, phones.Normalised):
            blocks.append((block, phones.place(number)))
    seen: set[str] = set()
    surnames, given, orgs, titles = demo.SURNAMES, demo.GIVEN, demo.ORGS, demo.TITLES
    while len(seen) < n:
        block, place = blocks[rng.randrange(len(blocks))]
        e164 = f"+86{block}{rng.randrange(10_000):04d}"
        if e164 in seen:
            continue
        seen.add(e164)
        name = rng.choice(surnames) + rng.choice(given)
        if rng.random() < 0.6:
            name += rng.choice(given)
        yield Person(e164, name, rng.choice(orgs), rng.choice(titles), place)


def _volunteers(campaign: Campaign, plan_callers: list[Caller]) -> list[int]:
    """User ids for the plan's callers: caller1-3 of the small demo, then volunteers who
    cannot sign in (no password); all approved members of the demo campaign."""
    ids = []
    with transaction.atomic():
        for n, caller in enumerate(plan_callers):
            name = f"caller{n + 1}" if n < 3 else f"volunteer{n + 1:02d}"
            user = User.objects.filter(username=name).first()
            if user is None:
                user = User(username=name, role=Role.CALLER, timezone=caller.zone)
                user.set_unusable_password()
                user.save()
                log_action(user, "accounts.user.created", actor=None, role=Role.CALLER)
            membership_add(user=user, campaign=campaign, actor=None, status=CallerStatus.APPROVED)
            ids.append(user.pk)
    return ids


# -- contacts and targets -------------------------------------------------------------------


def _contacts(people: list[Person], plan: Plan, report: _Progress) -> list[int]:
    """Seal every person as an import would and insert those not known yet (by blind
    index); every person's contact id, in order."""
    ring = keyring()
    phone_purpose = Contact._meta.get_field("phone").purpose
    details_purpose = Contact._meta.get_field("details").purpose
    created = demo_bulk.Stamps()(plan.end - (plan.days + 1) * DAY)  # imported before the calls
    found: dict[bytes, int] = {}
    indexes: list[bytes] = []
    with demo_bulk.Background() as writer:
        for start in range(0, len(people), BATCH):
            rows = [
                (
                    ring.blind_index(p.e164),
                    ring.encrypt(p.e164, phone_purpose),
                    ring.encrypt(
                        details_json(p.name, p.organisation, p.title, ""), details_purpose
                    ),
                    "CN",
                    p.place.province,
                    p.place.city_zh[:64],
                    p.place.city_en[:64],
                    p.place.timezone,
                    created,
                )
                for p in people[start : start + BATCH]
            ]
            indexes.extend(r[0] for r in rows)
            writer.submit(lambda rows=rows: found.update(_contacts_write(rows)))
            report.advance("contacts", len(rows))
    return [found[i] for i in indexes]


def _contacts_write(rows: list[tuple]) -> dict[bytes, int]:
    table = Contact._meta.db_table
    lookup = f"SELECT blind_index, id FROM {table} WHERE blind_index IN"  # noqa: S608 - identifier from model metadata  # nosec B608
    indexes = [r[0] for r in rows]
    known = {bytes(k): v for k, v in demo_bulk.select_in(lookup, indexes)}
    new = [r for r in rows if r[0] not in known]
    written = demo_bulk.insert_returning(
        table,
        CONTACT_INSERT_COLUMNS,
        new,
        conflict="ON CONFLICT (blind_index) DO NOTHING",
        returning="blind_index, id",
    )
    known.update((bytes(k), v) for k, v in written)
    missing = [i for i in indexes if i not in known]
    if missing:  # written meanwhile by someone else
        known.update((bytes(k), v) for k, v in demo_bulk.select_in(lookup, missing))
    return known


_TARGET_COLUMNS = (
    "campaign_id",
    "contact_id",
    "status",
    "attempts",
    "next_call_at",
    "last_outcome",
    "callback_caller_id",
    "for_trusted",
    "created_at",
)
_TARGET_CONFLICT = (
    "ON CONFLICT (campaign_id, contact_id) DO UPDATE SET status = excluded.status, "
    "attempts = excluded.attempts, next_call_at = excluded.next_call_at, "
    "last_outcome = excluded.last_outcome, callback_caller_id = excluded.callback_caller_id, "
    "lease_holder_id = NULL, lease_expires_at = NULL, leased_at = NULL"
)


def _targets(
    campaign: Campaign,
    contact_ids: list[int],
    h: History,
    caller_ids: list[int],
    plan: Plan,
    report: _Progress,
) -> list[int]:
    """Each contact's target in the demo campaign, in the state its calls left it (as
    calling.services._next_state sets it); the target ids, in order."""
    stamps = demo_bulk.Stamps()
    created = stamps(plan.end - (plan.days + 1) * DAY)
    statuses, outcomes = demo_history.STATUSES, demo_history.OUTCOMES
    by_contact: dict[int, int] = {}
    table = Target._meta.db_table

    def write(rows: list[tuple]) -> None:
        by_contact.update(
            demo_bulk.insert_returning(
                table, _TARGET_COLUMNS, rows, conflict=_TARGET_CONFLICT, returning="contact_id, id"
            )
        )

    with demo_bulk.Background() as writer:
        for start in range(0, len(contact_ids), BATCH):
            rows = []
            for i in range(start, min(start + BATCH, len(contact_ids))):
                cb, last, due = h.callback_caller[i], h.last[i], h.next_at[i]
                rows.append(
                    (
                        campaign.pk,
                        contact_ids[i],
                        statuses[h.status[i]],
                        h.attempts[i],
                        stamps(due) if due else None,
                        outcomes[last] if last != 255 else "",
                        caller_ids[cb] if cb != demo_history.NO_CALLER else None,
                        False,
                        created,
                    )
                )
            writer.submit(lambda rows=rows: write(rows))
            report.advance("targets", len(rows))
    return [by_contact[c] for c in contact_ids]


# -- calls ----------------------------------------------------------------------------------


@dataclass
class _Calls:
    """What writing the calls works from."""

    campaign: Campaign
    h: History
    numbers: list[str]
    provinces: list[str]
    caller_ids: list[int]
    contact_ids: list[int]
    plan: Plan


_ATTEMPT_COLUMNS = (
    "id",
    "target_id",
    "campaign_id",
    "caller_id",
    "started_at",
    "ended_at",
    "outcome",
    "notes",
)


def _calls(c: _Calls, target_ids: list[int], report: _Progress) -> None:
    """The calls, the objections ticked and the do-not-call entries, a batch per
    transaction, carrying on after those an interrupted run wrote; then the calls' indexes
    (dropped meanwhile) and the dashboards' rollups of every call."""
    h, plan = c.h, c.plan
    table = CallAttempt._meta.db_table
    done = CallAttempt.objects.filter(
        pk__gt=plan.attempt_base, pk__lte=plan.attempt_base + plan.attempts
    ).count()
    report.advance("calls", done)
    if _marker(c.campaign, CALLS) is not None:
        return
    dropped = _marker(c.campaign, INDEXES)
    statements = list(dropped.data["statements"]) if dropped else []
    statements += [s for s in demo_bulk.secondary_indexes(table) if s not in statements]
    with transaction.atomic():
        log_action(c.campaign, INDEXES, statements=statements)
        demo_bulk.drop_indexes(statements)
    ring = keyring()
    notes_purpose = CallAttempt._meta.get_field("notes").purpose
    entries = list(
        PlaybookEntry.objects.filter(campaign=c.campaign)
        .order_by("order", "id")
        .values_list("pk", flat=True)
    )[: demo_history.ENTRIES]
    stamps = demo_bulk.Stamps()
    outcomes, dnc_code = demo_history.OUTCOMES, demo_history.DNC
    cid, caller_ids = c.campaign.pk, c.caller_ids
    through = CallAttempt.objections.through._meta.db_table
    with demo_bulk.Background() as writer:
        for start in range(done, len(h), BATCH):
            attempts, ticked, dnc = [], [], []
            for j in range(start, min(start + BATCH, len(h))):
                i, o, began, note = h.target[j], h.outcome[j], h.start[j], h.note[j]
                pk = plan.attempt_base + 1 + j
                attempts.append(
                    (
                        pk,
                        target_ids[i],
                        cid,
                        caller_ids[h.caller[j]],
                        stamps(began),
                        stamps(began + h.length[j]),
                        outcomes[o],
                        ring.encrypt(NOTE_TEXTS[o][note - 1], notes_purpose) if note else "",
                    )
                )
                if bits := h.objections[j]:
                    ticked.extend((pk, e) for k, e in enumerate(entries) if bits >> k & 1)
                if o == dnc_code:
                    dnc.append(j)
            dnc_rows = _dnc_rows(c, dnc, stamps)

            def write(attempts=attempts, ticked=ticked, dnc_rows=dnc_rows) -> None:
                demo_bulk.insert_many(table, _ATTEMPT_COLUMNS, attempts)
                demo_bulk.insert_many(through, ("callattempt_id", "playbookentry_id"), ticked)
                _dnc_write(c, *dnc_rows)

            writer.submit(write)
            report.advance("calls", len(attempts))
    report.start("indexes and rollups", None)
    sums = _rollups(c, entries)
    with transaction.atomic():
        demo_bulk.create_indexes(statements)
        rollups.write(sums)
        log_action(c.campaign, CALLS, calls=len(h))
    report.done("indexes and rollups")


def _rollups(c: _Calls, entries: list[int]) -> rollups.Rollups:
    """The rollups of every call of the history, as rollups.compute would find them (the
    contacts' local days and hours: all of them are in China)."""
    h, cid, outcomes = c.h, c.campaign.pk, demo_history.OUTCOMES
    sums = rollups.Rollups()
    epoch = dt.date(1970, 1, 1)
    dates = {d: epoch + dt.timedelta(days=d) for d in range(h.first_day, h.first_day + h.days)}
    for who, day, hour, o, n in h.by_hour_items():
        date, outcome = dates[day], outcomes[o]
        sums.days[(cid, date, outcome)] += n
        sums.hours[(cid, hour, outcome)] += n
        sums.callers[(cid, c.caller_ids[who], date, outcome)] += n
    for entry, day, o, n in h.by_objection_items():
        if entry < len(entries):  # a playbook shortened since: those ticks were not written
            sums.objections[(cid, entries[entry], dates[day], outcomes[o])] += n
    provinces = sorted(set(c.provinces))
    code = {p: k for k, p in enumerate(provinces)}
    of_target = bytes(code[p] for p in c.provinces)
    per = [0] * (len(provinces) * len(outcomes))
    width = len(outcomes)
    for i, o in zip(h.target, h.outcome, strict=True):
        per[of_target[i] * width + o] += 1
    for key, n in enumerate(per):
        if n:
            sums.provinces[(cid, provinces[key // width], outcomes[key % width])] += n
    return sums


def _dnc_rows(c: _Calls, calls: list[int], stamps) -> tuple[list[tuple], list[int]]:
    """Do-not-call entries for the people who asked on these calls, and their contacts."""
    if not calls:
        return [], []
    ring = keyring()
    purpose = DoNotCall._meta.get_field("phone").purpose
    h, rows, contacts = c.h, [], []
    for j in calls:
        number = c.numbers[h.target[j]]
        rows.append(
            (
                ring.blind_index(number),
                ring.encrypt(number, purpose),
                "asked on a call",
                c.caller_ids[h.caller[j]],
                stamps(h.start[j] + h.length[j]),
            )
        )
        contacts.append(c.contact_ids[h.target[j]])
    return rows, contacts


def _dnc_write(c: _Calls, rows: list[tuple], contacts: list[int]) -> None:
    """On the do-not-call list, and every other campaign's target for the number closed
    (as calling.services.outcome_record does through dnc_add)."""
    if not rows:
        return
    demo_bulk.insert_returning(
        DoNotCall._meta.db_table,
        ("blind_index", "phone", "reason", "added_by_id", "created_at"),
        rows,
        conflict="ON CONFLICT (blind_index) DO NOTHING",
        returning="id",
    )
    Target.objects.filter(contact_id__in=contacts).exclude(campaign=c.campaign).exclude(
        status=TargetStatus.DNC
    ).update(status=TargetStatus.DNC, lease_holder=None, lease_expires_at=None)


# -- the registry ---------------------------------------------------------------------------

# Which organisations a declaration names: the three together most often.
_ORG_SETS = (
    (("party", "league", "pioneers"), 45),
    (("league", "pioneers"), 25),
    (("pioneers",), 12),
    (("party",), 6),
    (("league",), 6),
    (("party", "league"), 4),
    (("party", "pioneers"), 2),
)
WITHDRAWN_SHARE = 0.003


def _alias(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return f"{rng.choice(demo.ALIAS_LATIN)} {rng.randint(1, 999)}"
    words = demo.ALIAS_WORDS
    alias = rng.choice(words) + rng.choice(words)
    return alias if rng.random() < 0.6 else f"{alias}{rng.randint(1, 99)}"


def _registry(
    campaign: Campaign, h: History, provinces: list[str], plan: Plan, report: _Progress
) -> tuple[int, int]:
    """The declarations of the period, a day per transaction, each day sealed into the log
    as the worker would have (its checkpoint dated that day). Phone declarations are as many
    as the calls that ended with one, on their days (UTC, as the service dates them); the
    rest came through the web form. Returns (declarations, withdrawals) of the large demo."""
    first = dt.datetime.fromtimestamp(h.first_day * DAY - SHANGHAI, dt.UTC).date()
    last = dt.datetime.fromtimestamp(plan.end, dt.UTC).date()
    days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    offset = first.toordinal() - _ORDINAL_1970
    rng = random.Random(plan.seed + 1)  # noqa: S311 - synthetic data, not secrets  # nosec B311
    phone: list[list[str]] = [[] for _ in days]  # provinces of each day's phone declarations
    declared = demo_history.DECLARED
    for j, o in enumerate(h.outcome):
        if o == declared:
            k = (h.start[j] + h.length[j]) // DAY - offset
            if 0 <= k < len(days):
                province = provinces[h.target[j]]
                phone[k].append(province if rng.random() < 0.6 else "")
    total_phone = sum(len(p) for p in phone)
    if total_phone > plan.declarations:  # tiny scales: keep the registry's size as planned
        keep = plan.declarations / total_phone
        phone = [p[: round(len(p) * keep)] for p in phone]
        total_phone = sum(len(p) for p in phone)
    web_total = max(0, plan.declarations - total_phone)
    web = Counter(rng.choices(range(len(days)), weights=[len(p) + 1 for p in phone], k=web_total))
    sealed = {e.data["day"] for e in _markers(campaign, SEALED_DAY)}
    org_sets = [s for s, _w in _ORG_SETS]
    org_weights = [w for _s, w in _ORG_SETS]
    report.start("registry (days sealed)", len(days))
    for k, day in enumerate(days):
        if day.isoformat() in sealed:
            report.advance("registry (days sealed)")
            continue
        day_rng = random.Random(f"{plan.seed}:{day.isoformat()}")  # noqa: S311 - synthetic data  # nosec B311
        rows = [(p, Source.PHONE) for p in phone[k]]
        rows += [
            (
                provinces[day_rng.randrange(len(provinces))] if day_rng.random() < 0.5 else "",
                Source.WEB,
            )
            for _ in range(web[k])
        ]
        day_rng.shuffle(rows)
        gone = sum(1 for _ in rows if day_rng.random() < WITHDRAWN_SHARE)
        with transaction.atomic():
            added = _declarations(day, rows, day_rng, org_sets, org_weights)
            withdrawn = _withdrawals(day, gone) if k else 0
            registry_publish(now=_seal_time(day, plan.end))
            log_action(
                campaign, SEALED_DAY, day=day.isoformat(), declarations=added, withdrawals=withdrawn
            )
        report.advance("registry (days sealed)")
    days_sealed = [e.data for e in _markers(campaign, SEALED_DAY)]
    return sum(d["declarations"] for d in days_sealed), sum(d["withdrawals"] for d in days_sealed)


_ORDINAL_1970 = dt.date(1970, 1, 1).toordinal()


def _declarations(day: dt.date, rows, rng, org_sets, org_weights) -> int:
    """One day's declarations, pending for the log. Through the ORM: the registry's keys
    are the models' to give (registry.models), and a day has only hundreds."""
    declarations = Declaration.objects.bulk_create(
        [
            Declaration(
                alias=_alias(rng),
                province=province,
                declared_on=day,
                source=source,
                receipt_hash=receipt_hash(receipt_new()),
            )
            for province, source in rows
        ],
        batch_size=500,
    )
    DeclarationOrganisation.objects.bulk_create(
        [
            DeclarationOrganisation(declaration=d, code=code)
            for d in declarations
            for code in rng.choices(org_sets, weights=org_weights, k=1)[0]
        ],
        batch_size=500,
    )
    return len(declarations)


def _withdrawals(day: dt.date, count: int) -> int:
    """``count`` declarations of the last three weeks, picked at random (by receipt hash),
    are withdrawn on ``day``: a new entry each; the declaration stays."""
    chosen = list(
        Declaration.objects.filter(
            status=DeclarationStatus.ACTIVE,
            declared_on__gte=day - dt.timedelta(days=21),
            declared_on__lt=day,
        )
        .order_by("receipt_hash")
        .values_list("pk", flat=True)[:count]
    )
    if not chosen:
        return 0
    Declaration.objects.filter(pk__in=chosen).update(status=DeclarationStatus.WITHDRAWN)
    Withdrawal.objects.bulk_create(Withdrawal(declaration_id=pk, withdrawn_on=day) for pk in chosen)
    return len(chosen)


def _seal_time(day: dt.date, end: int) -> dt.datetime:
    """When that day's batch was sealed: its last moment (not after the history ends), and
    after the log's latest checkpoint."""
    moment = dt.datetime.combine(day, dt.time(23, 59, 59), dt.UTC)
    moment = min(moment, dt.datetime.fromtimestamp(end, dt.UTC))
    latest = Checkpoint.objects.order_by("-size").values_list("created_at", flat=True).first()
    if latest is not None and latest >= moment:
        moment = latest + dt.timedelta(seconds=1)
    return moment
