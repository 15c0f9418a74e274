"""The claim queue's rules, at the service level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from phonebank.accounts.models import Role
from phonebank.accounts.services import caller_trust_set, user_create
from phonebank.calling import selectors, services
from phonebank.calling.models import CallAttempt, Outcome, Target, TargetStatus
from phonebank.contacts.models import Contact
from phonebank.contacts.services import dnc_add
from phonebank.lib.errors import DomainError
from phonebank.lib.fields import keyring
from phonebank.registry.models import Declaration
from tests.conftest import PASSWORD

# 10:00 in Shanghai on a Wednesday: inside the default hours (09:00-12:00, 14:00-21:00).
MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
# 13:00 in Shanghai: the midday break.
MIDDAY = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def _contact(n: int, zone: str = "Asia/Shanghai") -> Contact:
    e164 = f"+86138{n:08d}"
    return Contact.objects.create(
        blind_index=keyring().blind_index(e164),
        phone=e164,
        name=f"name {n}",
        country="CN",
        province="BJ",
        timezone=zone,
    )


@pytest.fixture
def queue(campaign):
    return [Target.objects.create(campaign=campaign, contact=_contact(i)) for i in range(3)]


@pytest.fixture
def second_caller(campaign):
    return user_create(username="cleo", password=PASSWORD, role=Role.CALLER, campaign=campaign)


def claim(campaign, caller, now=MORNING):
    result = services.target_claim(campaign=campaign, caller=caller, now=now)
    return result.target if result else None


def test_a_claim_leases_one_contact_and_a_second_caller_gets_another(
    campaign, caller, second_caller, queue
):
    first = claim(campaign, caller)
    second = claim(campaign, second_caller)
    assert first is not None and second is not None
    assert first.pk != second.pk
    assert first.lease_holder_id == caller.pk
    assert first.lease_expires_at == MORNING + timedelta(minutes=20)


def test_claiming_again_returns_the_same_contact(campaign, caller, queue):
    first = claim(campaign, caller)
    again = services.target_claim(
        campaign=campaign, caller=caller, now=MORNING + timedelta(minutes=5)
    )
    assert again.renewed and again.target.pk == first.pk
    assert again.target.lease_expires_at == MORNING + timedelta(minutes=25)


def test_nobody_is_called_outside_their_calling_hours(campaign, caller, queue):
    assert claim(campaign, caller, now=MIDDAY) is None


def test_hours_follow_the_contacts_time_zone(campaign, caller):
    Target.objects.create(campaign=campaign, contact=_contact(50, "America/New_York"))
    # 13:00 in Shanghai is 00:00 in New York: neither may be called ...
    assert claim(campaign, caller, now=MIDDAY) is None
    # ... 15:00 UTC is 10:00 in New York and 23:00 in Shanghai.
    cache.clear()
    got = claim(campaign, caller, now=datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    assert got.contact.timezone == "America/New_York"


def test_per_weekday_hours(campaign, caller, queue):
    campaign.calling_hours = "mon-fri 09:00-12:00; sat-sun -"
    campaign.save()
    saturday_morning = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert claim(campaign, caller, now=saturday_morning) is None
    assert claim(campaign, caller, now=MORNING) is not None


def test_an_expired_lease_returns_the_contact_to_the_queue(campaign, caller, second_caller):
    only = Target.objects.create(campaign=campaign, contact=_contact(7))
    assert claim(campaign, caller).pk == only.pk
    assert claim(campaign, second_caller) is None
    later = MORNING + timedelta(minutes=21)
    assert claim(campaign, second_caller, now=later).pk == only.pk


def test_no_answer_is_retried_after_the_delay_until_attempts_run_out(campaign, caller):
    target = Target.objects.create(campaign=campaign, contact=_contact(8))
    now = MORNING
    for attempt in range(1, 6):
        got = claim(campaign, caller, now=now)
        assert got is not None and got.pk == target.pk, attempt
        services.outcome_record(target=got, caller=caller, outcome=Outcome.NO_ANSWER, now=now)
        target.refresh_from_db()
        if attempt < 5:
            assert target.status == TargetStatus.OPEN
            assert target.next_call_at == now + timedelta(hours=3)
            assert claim(campaign, caller, now=now + timedelta(hours=2)) is None
            # the next day, inside calling hours again
            now = now + timedelta(days=1)
    assert target.status == TargetStatus.EXHAUSTED
    assert claim(campaign, caller, now=now + timedelta(days=1)) is None


def test_a_callback_goes_to_the_caller_who_agreed_it_then_to_a_trusted_caller(
    campaign, caller, second_caller, queue
):
    got = claim(campaign, caller)
    at = MORNING + timedelta(days=1)
    services.outcome_record(
        target=got, caller=caller, outcome=Outcome.CALLBACK, callback_at=at, now=MORNING
    )
    # Due: the other caller gets an ordinary contact, not the callback ...
    other = claim(campaign, second_caller, now=at)
    assert other.pk != got.pk
    # ... the agreeing caller gets the callback first.
    assert claim(campaign, caller, now=at).pk == got.pk
    services.target_release(target=got, caller=caller, now=at)
    services.outcome_record(target=other, caller=second_caller, outcome=Outcome.REFUSED, now=at)
    # After the grace period, a trusted caller; an untrusted one gets ordinary contacts.
    late = at + timedelta(minutes=31)
    untrusted = claim(campaign, second_caller, now=late)
    assert untrusted.pk != got.pk
    services.target_release(target=untrusted, caller=second_caller, now=late)
    assert [t.pk for t in selectors.candidates(campaign, second_caller, late)[1]] == []
    caller_trust_set(
        membership=second_caller.memberships.get(campaign=campaign), trusted=True, actor=None
    )
    assert [t.pk for t in selectors.candidates(campaign, second_caller, late)[1]] == [got.pk]
    assert claim(campaign, second_caller, now=late).pk == got.pk


def test_do_not_call_closes_the_contact_in_every_campaign(campaign, other_campaign, caller):
    contact = _contact(9)
    here = Target.objects.create(campaign=campaign, contact=contact)
    there = Target.objects.create(campaign=other_campaign, contact=contact)
    got = claim(campaign, caller)
    services.outcome_record(target=got, caller=caller, outcome=Outcome.DO_NOT_CALL, now=MORNING)
    here.refresh_from_db()
    there.refresh_from_db()
    assert here.status == there.status == TargetStatus.DNC


def test_a_number_added_to_dnc_elsewhere_is_never_handed_out(campaign, caller, admin):
    contact = _contact(10)
    Target.objects.create(campaign=campaign, contact=contact)
    dnc_add(phone=contact.phone, actor=admin)
    assert claim(campaign, caller) is None


def test_wrong_and_invalid_numbers_close_the_contact(campaign, caller, queue):
    for outcome in (Outcome.WRONG_NUMBER, Outcome.INVALID_NUMBER):
        got = claim(campaign, caller)
        services.outcome_record(target=got, caller=caller, outcome=outcome, now=MORNING)
        got.refresh_from_db()
        assert got.status == TargetStatus.CLOSED


def test_a_declaration_needs_consent_and_records_no_link_to_the_call(campaign, caller, queue):
    got = claim(campaign, caller)
    with pytest.raises(DomainError, match="agreement"):
        services.outcome_record(
            target=got,
            caller=caller,
            outcome=Outcome.DECLARED,
            now=MORNING,
            declaration={"alias": "自由人", "organisations": ["party"]},
        )
    assert not Declaration.objects.exists() and not CallAttempt.objects.exists()
    _attempt, receipt = services.outcome_record(
        target=got,
        caller=caller,
        outcome=Outcome.DECLARED,
        now=MORNING,
        declaration={"alias": " 自由人 ", "organisations": ["party", "league"], "consent": True},
    )
    declaration = Declaration.objects.get()
    assert declaration.alias == "自由人"
    assert sorted(declaration.organisations.values_list("code", flat=True)) == ["league", "party"]
    assert len(receipt.replace("-", "")) == 16
    assert receipt not in declaration.receipt_hash
    got.refresh_from_db()
    assert got.status == TargetStatus.DONE


def test_a_declaration_with_an_unknown_organisation_is_refused(campaign, caller, queue):
    got = claim(campaign, caller)
    with pytest.raises(DomainError, match="Unknown organisation"):
        services.outcome_record(
            target=got,
            caller=caller,
            outcome=Outcome.DECLARED,
            now=MORNING,
            declaration={"alias": "a", "organisations": ["club"], "consent": True},
        )


@pytest.mark.parametrize(
    "when", [None, MORNING - timedelta(minutes=1), MORNING + timedelta(days=61)]
)
def test_bad_callback_times_are_refused(campaign, caller, queue, when):
    got = claim(campaign, caller)
    with pytest.raises(DomainError):
        services.outcome_record(
            target=got, caller=caller, outcome=Outcome.CALLBACK, callback_at=when, now=MORNING
        )


def test_an_outcome_needs_the_lease(campaign, caller, second_caller, queue):
    got = claim(campaign, caller)
    with pytest.raises(services.LeaseLost):
        services.outcome_record(target=got, caller=second_caller, outcome=Outcome.BUSY, now=MORNING)


def test_an_outcome_after_the_lease_ran_out_counts_unless_someone_took_it(
    campaign, caller, second_caller
):
    target = Target.objects.create(campaign=campaign, contact=_contact(11))
    claim(campaign, caller)
    late = MORNING + timedelta(minutes=30)
    services.outcome_record(target=target, caller=caller, outcome=Outcome.BUSY, now=late)
    target.refresh_from_db()
    assert target.attempts == 1


def test_objections_heard_are_recorded(campaign, caller, queue):
    entry = campaign.playbook.create(objection="busy", response="later")
    got = claim(campaign, caller)
    attempt, _ = services.outcome_record(
        target=got,
        caller=caller,
        outcome=Outcome.LISTENED,
        objections=[entry.pk],
        notes="kind",
        now=MORNING,
    )
    assert list(attempt.objections.all()) == [entry]
    assert CallAttempt.objects.get().notes == "kind"


def test_objections_of_another_campaign_are_refused(campaign, other_campaign, caller, queue):
    foreign = other_campaign.playbook.create(objection="x", response="y")
    got = claim(campaign, caller)
    with pytest.raises(DomainError, match="objection"):
        services.outcome_record(
            target=got,
            caller=caller,
            outcome=Outcome.LISTENED,
            objections=[foreign.pk],
            now=MORNING,
        )


def test_the_claim_rate_limit_stops_scraping(campaign, caller, queue, settings):
    settings.PHONEBANK_CLAIM_RATE_PER_MIN = 2
    now = MORNING
    for _ in range(2):
        got = claim(campaign, caller, now=now)
        services.target_release(target=got, caller=caller, now=now)
    with pytest.raises(services.RateLimited):
        claim(campaign, caller, now=now)
    assert claim(campaign, caller, now=now + timedelta(seconds=61)) is not None


def test_release_returns_the_contact_without_an_attempt(campaign, caller, second_caller):
    target = Target.objects.create(campaign=campaign, contact=_contact(12))
    claim(campaign, caller)
    services.target_release(target=target, caller=caller, now=MORNING)
    assert claim(campaign, second_caller).pk == target.pk
    assert not CallAttempt.objects.exists()


def test_dnc_from_one_campaign_leaves_anothers_call_recorded_and_the_contact_closed(
    campaign, other_campaign, caller, other_campaign_caller
):
    contact = _contact(13)
    here = Target.objects.create(campaign=campaign, contact=contact)
    there = Target.objects.create(campaign=other_campaign, contact=contact)
    assert claim(campaign, caller).pk == here.pk
    assert claim(other_campaign, other_campaign_caller).pk == there.pk
    services.outcome_record(target=here, caller=caller, outcome=Outcome.DO_NOT_CALL, now=MORNING)
    # The other caller was mid-call: their outcome still counts ...
    services.outcome_record(
        target=there, caller=other_campaign_caller, outcome=Outcome.BUSY, now=MORNING
    )
    there.refresh_from_db()
    assert there.attempts == 1
    # ... and the contact stays off every queue.
    assert there.status == TargetStatus.DNC
    assert claim(other_campaign, other_campaign_caller, now=MORNING + timedelta(days=1)) is None
