"""The claim queue under real concurrency: eight callers, each in its own thread with its own
database connection, claiming and recording outcomes at the same time.

Each caller loops claim → call → outcome until the queue has nobody left for it, and tells a
shared ledger what it holds. The ledger catches a contact handed to a second caller while the
first one's lease is still live; afterwards the database must show every contact called
exactly as often as the callers say they called it, and no lease left over. A last test
sends eight claims of one caller at once, as a double click or a second tab would.

Why the queue is safe on each database (what these tests put to the proof):

- SQLite: every transaction opens with BEGIN IMMEDIATE (``transaction_mode`` in settings),
  which takes the database's one write lock at once, so claims and outcomes run strictly one
  after another, each seeing the last one's commit; the others wait for the lock (busy
  timeout 20 s) instead of failing half-way. That needs a database *file*, as in production:
  pytest-django's default test database is a shared-cache in-memory one, whose table locks
  fail at once ("database table is locked", SQLITE_LOCKED, which no busy timeout covers). So
  this module runs on a file copy of the migrated test database, in WAL mode (see
  ``django_db_setup`` below).
- PostgreSQL: a claim locks its candidate row with SELECT ... FOR UPDATE SKIP LOCKED, so
  concurrent claims pass over each other's rows instead of queueing behind them or taking the
  same one; the lock also re-checks the row's conditions against its latest version, so a
  contact called a moment ago is not handed out again from a stale snapshot. An outcome
  locks its row FOR UPDATE and checks that the caller still holds the lease.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection

from phonebank.accounts.models import Role
from phonebank.accounts.services import user_create
from phonebank.calling import selectors, services
from phonebank.calling.models import CallAttempt, Outcome, Target, TargetStatus
from phonebank.campaigns.models import RetryRule
from phonebank.contacts.models import Contact, DoNotCall
from phonebank.lib.fields import keyring
from phonebank.registry.models import Declaration
from tests.conftest import PASSWORD, sqlite_file_database

# Threads need committed data: every test here runs outside a wrapping transaction.
pytestmark = pytest.mark.django_db(transaction=True)

CALLERS = ("ana", "ben", "chi", "dev", "eli", "fay", "gus", "hal")
# Wednesday 10:00 in Shanghai, and 14:00 after the midday break: inside the default hours.
MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
AFTERNOON = MORNING + timedelta(hours=4)
JOIN_SECONDS = 120  # far above a round's real length; reaching it means a caller hung
# The call itself, between claim and outcome, outside any transaction: while one caller talks
# the others claim, so several leases are live at once (and SQLite's lock changes hands).
CALL_SECONDS = 0.002


@pytest.fixture(scope="module")
def django_db_setup(django_db_setup, django_db_blocker, tmp_path_factory):
    """On SQLite, this module's callers share a database file (tests/conftest.py)."""
    with sqlite_file_database(django_db_blocker, tmp_path_factory.mktemp("queue-db")):
        yield


@pytest.fixture(autouse=True)
def _queue_settings(settings):
    settings.PHONEBANK_CLAIM_RATE_PER_MIN = 0  # the per-caller claim limits are not under test
    settings.PHONEBANK_CLAIM_DAILY_CAP = 0
    cache.clear()  # a campaign's cached time zones: a flushed database may reuse its pk


@pytest.fixture
def callers(campaign):
    return [
        user_create(username=name, password=PASSWORD, role=Role.CALLER, campaign=campaign)
        for name in CALLERS
    ]


def _queue(campaign, size: int) -> list[Target]:
    phones = [f"+86139{n:08d}" for n in range(size)]
    contacts = Contact.objects.bulk_create(
        Contact(
            blind_index=keyring().blind_index(phone),
            phone=phone,
            name=f"name {n}",
            country="CN",
            province="BJ",
            timezone="Asia/Shanghai",
        )
        for n, phone in enumerate(phones)
    )
    return Target.objects.bulk_create(Target(campaign=campaign, contact=c) for c in contacts)


def _offered(campaign, callers, now: datetime) -> set[int]:
    """Every contact the queue would hand to one of these callers now."""
    return {
        target.pk
        for caller in callers
        for query in selectors.candidates(campaign, caller, now)
        for target in query
    }


class Ledger:
    """What the callers say they did, shared by their threads under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.holders: dict[int, tuple[str, datetime]] = {}  # target → (caller, lease end)
        self.claims: list[tuple[int, int, str]] = []  # (round, target, caller)
        self.calls: Counter[int] = Counter()  # outcomes recorded, per target
        self.abandoned: dict[int, dict[str, int]] = {}  # round → {caller: target}
        self.late: dict[tuple[int, int], str] = {}  # (round, target) → "recorded" | "lost"
        self.double: list[str] = []
        self.errors: list[str] = []
        self.most_held = 0  # the most contacts held by different callers at one moment

    def claimed(self, round_: int, claim: services.Claim, caller, now: datetime) -> None:
        target = claim.target
        with self._lock:
            if claim.renewed or target.lease_holder_id != caller.pk:
                self.errors.append(f"{caller}: odd claim of target {target.pk}: {claim}")
            holder = self.holders.get(target.pk)
            if holder and holder[0] != caller.username and holder[1] > now:
                self.double.append(
                    f"target {target.pk} went to {caller} at {now:%H:%M} "
                    f"while {holder[0]} held it until {holder[1]:%H:%M}"
                )
            self.holders[target.pk] = (caller.username, target.lease_expires_at)
            self.claims.append((round_, target.pk, caller.username))
            live = {name for name, until in self.holders.values() if until > now}
            self.most_held = max(self.most_held, len(live))

    def recorded(self, target: Target, caller) -> None:
        """An outcome was committed: the lease is over."""
        with self._lock:
            if self.holders.get(target.pk, ("",))[0] == caller.username:
                del self.holders[target.pk]
            self.calls[target.pk] += 1

    def abandon(self, round_: int, target: Target, caller) -> None:
        with self._lock:
            self.abandoned.setdefault(round_, {})[caller.username] = target.pk

    def claimed_in(self, round_: int) -> Counter[int]:
        return Counter(t for r, t, _c in self.claims if r == round_)


def _together(callers, work: Callable, ledger: Ledger) -> None:
    """Run work(caller) in one thread per caller, all let go at once; wait for every one."""
    gate = threading.Barrier(len(callers))

    def run(caller) -> None:
        try:
            gate.wait(timeout=JOIN_SECONDS)
            work(caller)
        except Exception:
            ledger.errors.append(f"{caller}: {traceback.format_exc()}")
        finally:
            connection.close()  # this thread's own connection

    threads = [
        threading.Thread(target=run, args=(c,), name=f"caller-{c}", daemon=True) for c in callers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_SECONDS)
    assert not [t.name for t in threads if t.is_alive()], "callers still waiting: deadlocked?"


# The first call's outcome, by target: retried later, finished, closed, on the DNC list.
FIRST_OUTCOMES = (
    Outcome.NO_ANSWER,
    Outcome.BUSY,
    Outcome.REFUSED,
    Outcome.CALLBACK,
    Outcome.WRONG_NUMBER,
    Outcome.DO_NOT_CALL,
    Outcome.DECLARED,
)
CALLED_AGAIN = {Outcome.NO_ANSWER, Outcome.BUSY, Outcome.CALLBACK}


def _first_outcome(target: Target) -> str:
    return FIRST_OUTCOMES[target.pk % len(FIRST_OUTCOMES)]


def _outcome_details(outcome: str, now: datetime) -> dict:
    if outcome == Outcome.CALLBACK:
        return {"callback_at": now + timedelta(hours=1)}
    if outcome == Outcome.DECLARED:
        return {"declaration": {"alias": "自由人", "organisations": ["party"], "consent": True}}
    return {}


def test_it_never_hands_one_contact_to_two_callers(campaign, callers):
    targets = _queue(campaign, 200)
    ledger = Ledger()
    # Morning: everyone is called once. Afternoon: the retries and the callbacks (now past
    # their grace period, so anyone's) are due, and each is called once more.
    rounds = [
        (MORNING, {t.pk for t in targets}),
        (AFTERNOON, {t.pk for t in targets if _first_outcome(t) in CALLED_AGAIN}),
    ]
    for round_, (now, due) in enumerate(rounds):
        assert _offered(campaign, callers, now) == due

        def work(caller, round_=round_, now=now) -> None:
            while claim := services.target_claim(campaign=campaign, caller=caller, now=now):
                ledger.claimed(round_, claim, caller, now)
                time.sleep(CALL_SECONDS)
                outcome = _first_outcome(claim.target) if round_ == 0 else Outcome.REFUSED
                services.outcome_record(
                    target=claim.target,
                    caller=caller,
                    outcome=outcome,
                    now=now,
                    **_outcome_details(outcome, now),
                )
                ledger.recorded(claim.target, caller)

        _together(callers, work, ledger)
        assert not ledger.errors, ledger.errors[0]
        assert not ledger.double
        # Everyone due was handed out exactly once, and the queue has nobody left.
        assert ledger.claimed_in(round_) == Counter(due)
        assert _offered(campaign, callers, now) == set()

    assert ledger.most_held > 1  # callers did hold contacts side by side
    assert not ledger.holders
    assert not Target.objects.filter(lease_holder__isnull=False).exists()
    expected = {t.pk: 2 if _first_outcome(t) in CALLED_AGAIN else 1 for t in targets}
    assert dict(Target.objects.values_list("pk", "attempts")) == expected == ledger.calls
    assert Counter(CallAttempt.objects.values_list("target_id", flat=True)) == expected
    final = {
        Outcome.WRONG_NUMBER: TargetStatus.CLOSED,
        Outcome.DO_NOT_CALL: TargetStatus.DNC,
    }
    assert dict(Target.objects.values_list("pk", "status")) == {
        t.pk: final.get(_first_outcome(t), TargetStatus.DONE) for t in targets
    }
    firsts = Counter(_first_outcome(t) for t in targets)
    assert DoNotCall.objects.count() == firsts[Outcome.DO_NOT_CALL]
    assert Declaration.objects.count() == firsts[Outcome.DECLARED]


# The crash test: short leases, and "busy" contacts due again one round later.
LEASE_MINUTES = 5
ROUND = timedelta(minutes=LEASE_MINUTES + 1)  # every lease of a round has run out by the next
ROUNDS = 6


def _crashes(caller, round_: int) -> bool:
    """Two callers a round (not the last) close their browser holding a contact."""
    return round_ < ROUNDS - 1 and CALLERS.index(caller.username) % 4 == round_ % 4


def _comes_back(caller) -> bool:
    """Of the two, one sends the outcome late, as the next round starts; the other is gone."""
    return CALLERS.index(caller.username) < 4


def _outcome(target: Target, round_: int) -> str:
    n = (target.pk + round_) % 10
    return Outcome.BUSY if n < 7 else Outcome.NO_ANSWER if n == 7 else Outcome.REFUSED


def test_a_lease_left_by_a_crashed_caller_passes_to_one_other_caller_when_it_runs_out(
    campaign, callers
):
    campaign.lease_minutes = LEASE_MINUTES
    campaign.save(update_fields=["lease_minutes"])
    RetryRule.objects.filter(campaign=campaign, outcome=Outcome.BUSY).update(
        delay_minutes=LEASE_MINUTES + 1, max_attempts=ROUNDS + 1
    )
    _queue(campaign, 120)
    ledger = Ledger()
    by_name = {c.username: c for c in callers}

    for round_ in range(ROUNDS):
        now = MORNING + round_ * ROUND
        left = ledger.abandoned.get(round_ - 1, {})  # caller → target, leases now run out
        offered = _offered(campaign, callers, now)
        assert set(left.values()) <= offered

        def work(caller, round_=round_, now=now, left=left) -> None:
            if caller.username in left:
                if _comes_back(caller):
                    # The late outcome races the others' claims: it counts unless one of
                    # them has taken the contact first.
                    target = Target.objects.get(pk=left[caller.username])
                    try:
                        services.outcome_record(
                            target=target, caller=caller, outcome=Outcome.BUSY, now=now
                        )
                    except services.LeaseLost:
                        ledger.late[round_, target.pk] = "lost"
                    else:
                        ledger.late[round_, target.pk] = "recorded"
                        ledger.recorded(target, caller)
                return
            while claim := services.target_claim(campaign=campaign, caller=caller, now=now):
                ledger.claimed(round_, claim, caller, now)
                if _crashes(caller, round_):
                    ledger.abandon(round_, claim.target, caller)
                    return  # no outcome, no release: the lease just runs out
                time.sleep(CALL_SECONDS)
                outcome = _outcome(claim.target, round_)
                services.outcome_record(
                    target=claim.target, caller=caller, outcome=outcome, now=now
                )
                ledger.recorded(claim.target, caller)

        _together(callers, work, ledger)
        assert not ledger.errors, ledger.errors[0]
        assert not ledger.double
        claimed = ledger.claimed_in(round_)
        late_recorded = {
            t for (r, t), how in ledger.late.items() if r == round_ and how == "recorded"
        }
        assert claimed == Counter(offered - late_recorded)
        assert _offered(campaign, callers, now) == set()
        # Every lease left last round went to exactly one other caller, or its holder's late
        # outcome got in first (and then nobody else had it).
        for name, target in left.items():
            takers = {c for r, t, c in ledger.claims if r == round_ and t == target}
            late = ledger.late.get((round_, target))
            if late == "recorded":
                assert not takers
            else:
                assert len(takers) == 1 and name not in takers
                assert late == ("lost" if _comes_back(by_name[name]) else None)
        # The database agrees: exactly the contacts left this round are still leased.
        abandoned = ledger.abandoned.get(round_, {})
        assert {
            pk: (holder, until)
            for pk, holder, until in Target.objects.filter(lease_holder__isnull=False).values_list(
                "pk", "lease_holder__username", "lease_expires_at"
            )
        } == {pk: (name, now + timedelta(minutes=LEASE_MINUTES)) for name, pk in abandoned.items()}

    picked_up = [
        t
        for r, left in ledger.abandoned.items()
        for name, t in left.items()
        if ledger.late.get((r + 1, t)) != "recorded"
    ]
    assert picked_up  # the test did exercise expired leases passing to someone else
    assert ledger.most_held > 1
    assert not Target.objects.filter(lease_holder__isnull=False).exists()
    assert dict(Target.objects.filter(attempts__gt=0).values_list("pk", "attempts")) == dict(
        ledger.calls
    )
    assert Counter(CallAttempt.objects.values_list("target_id", flat=True)) == ledger.calls


def test_one_callers_claims_at_the_same_moment_lease_one_contact(campaign, caller):
    """A double click, or two tabs: claims of one caller that cross share one lease."""
    _queue(campaign, 20)
    ledger = Ledger()
    claims: list[services.Claim] = []

    def work(_caller) -> None:
        claims.append(services.target_claim(campaign=campaign, caller=caller, now=MORNING))

    _together([caller] * len(CALLERS), work, ledger)
    assert not ledger.errors, ledger.errors[0]
    assert len({claim.target.pk for claim in claims}) == 1
    assert sorted(claim.renewed for claim in claims) == [False] + [True] * (len(CALLERS) - 1)
    assert Target.objects.filter(lease_holder=caller).count() == 1
