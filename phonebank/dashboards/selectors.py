"""Reads for the dashboards. Figures about calls come from the rollups (a few hundred rows
whatever the number of calls); figures about the queue from the targets' counts by status
(``targetcounts``: kept by triggers on PostgreSQL, counted on the queue index on SQLite)
and the queue index.

Definitions (docs/dashboards.md):
- dialled: every call attempt;
- reached: the person answered (hung up, refused, do not call, callback, listened, declared);
- listened: they heard the message out (listened, declared);
- declared: they declared.
Days are the contacts' local days of the call's end; "today" is today in the campaign's
default time zone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Min, Q, Sum

from phonebank.calling import selectors as calling_selectors
from phonebank.calling.models import CallAttempt, ClaimWindow, Outcome, Target, TargetStatus
from phonebank.dashboards import targetcounts
from phonebank.dashboards.models import (
    CallerDayStat,
    DayStat,
    DryReason,
    HourStat,
    ObjectionStat,
    ProvinceStat,
    QueueDry,
)
from phonebank.lib import hours

REACHED = frozenset(
    {
        Outcome.HUNG_UP,
        Outcome.REFUSED,
        Outcome.DO_NOT_CALL,
        Outcome.CALLBACK,
        Outcome.LISTENED,
        Outcome.DECLARED,
    }
)
LISTENED = frozenset({Outcome.LISTENED, Outcome.DECLARED})
ACTIVE_MINUTES = 30  # a caller with a call or a lease this recent is "active now"
PERIODS = (7, 30, 90, 365)


def today_for(campaign, now: datetime) -> date:
    return now.astimezone(ZoneInfo(campaign.default_timezone or "UTC")).date()


@dataclass
class Funnel:
    dialled: int = 0
    reached: int = 0
    listened: int = 0
    declared: int = 0

    def add(self, outcome: str, calls: int) -> None:
        self.dialled += calls
        self.reached += calls if outcome in REACHED else 0
        self.listened += calls if outcome in LISTENED else 0
        self.declared += calls if outcome == Outcome.DECLARED else 0

    @property
    def contact_rate(self) -> float | None:
        return self.reached / self.dialled if self.dialled else None

    def steps(self) -> list[tuple[str, int, float | None]]:
        """(step, count, share of the step before) for the funnel chart and table."""
        out, before = [], None
        for name in ("dialled", "reached", "listened", "declared"):
            n = getattr(self, name)
            out.append((name, n, (n / before) if before else None))
            before = n
        return out


def funnel_of(counts: dict[str, int]) -> Funnel:
    found = Funnel()
    for outcome, calls in counts.items():
        found.add(outcome, calls)
    return found


@dataclass
class DayRow:
    day: date
    calls: int = 0
    reached: int = 0
    declared: int = 0
    cumulative: int = 0  # declarations up to and including this day (all time)


def day_series(campaign_ids: list[int], start: date, end: date) -> list[DayRow]:
    """Calls, reached and declared per day from start to end (inclusive, every day present),
    with declarations cumulative since the first call."""
    rows = {
        start + timedelta(days=i): DayRow(start + timedelta(days=i))
        for i in range((end - start).days + 1)
    }
    stats = (
        DayStat.objects.filter(campaign_id__in=campaign_ids, day__gte=start, day__lte=end)
        .values_list("day", "outcome")
        .annotate(n=Sum("calls"))
    )
    for day, outcome, n in stats:
        row = rows[day]
        row.calls += n
        row.reached += n if outcome in REACHED else 0
        row.declared += n if outcome == Outcome.DECLARED else 0
    before = (
        DayStat.objects.filter(
            campaign_id__in=campaign_ids, day__lt=start, outcome=Outcome.DECLARED
        ).aggregate(n=Sum("calls"))["n"]
        or 0
    )
    running = before
    for row in rows.values():
        running += row.declared
        row.cumulative = running
    return list(rows.values())


def outcome_totals(campaign_ids: list[int], *, day: date | None = None) -> dict[str, int]:
    """Calls by outcome, all time (or on one day)."""
    qs = DayStat.objects.filter(campaign_id__in=campaign_ids)
    if day is not None:
        qs = qs.filter(day=day)
    totals = {code: 0 for code in Outcome.values}
    for outcome, n in qs.values_list("outcome").annotate(n=Sum("calls")):
        totals[outcome] = totals.get(outcome, 0) + n
    return totals


@dataclass
class GroupRow:
    key: object
    calls: int = 0
    reached: int = 0
    declared: int = 0

    @property
    def contact_rate(self) -> float | None:
        return self.reached / self.calls if self.calls else None


def _grouped(qs, key: str) -> dict[object, GroupRow]:
    rows: dict[object, GroupRow] = {}
    for value, outcome, n in qs.values_list(key, "outcome").annotate(n=Sum("calls")):
        row = rows.setdefault(value, GroupRow(value))
        row.calls += n
        row.reached += n if outcome in REACHED else 0
        row.declared += n if outcome == Outcome.DECLARED else 0
    return rows


def province_rows(campaign_ids: list[int]) -> list[GroupRow]:
    """Per contact province: calls, reached, declared; most declarations first."""
    rows = _grouped(ProvinceStat.objects.filter(campaign_id__in=campaign_ids), "province")
    return sorted(rows.values(), key=lambda r: (-r.declared, -r.calls, str(r.key)))


def hour_rows(campaign_ids: list[int]) -> list[GroupRow]:
    """Per hour of the contacts' local day, 0 to 23, every hour present."""
    rows = _grouped(HourStat.objects.filter(campaign_id__in=campaign_ids), "hour")
    return [rows.get(h, GroupRow(h)) for h in range(24)]


@dataclass
class CallerRow:
    username: str
    active: bool
    holding: bool
    today: Funnel
    flagged: ClaimWindow | None = None


def live_leases(campaign, now: datetime) -> list[int]:
    """The holder of each live lease in a campaign: one entry per contact being called now.

    Two short reads, each on an index: the live leases of every campaign on the lease index
    (a few, about one per caller calling now), then which of them are in this campaign by
    primary key. Asked in one statement, SQLite (which has no statistics) took the
    campaign's condition to its index and read all of the campaign's targets: ≈ 170 ms at
    1,000,000 (docs/benchmarks.md, "Dashboards")."""
    live = list(
        Target.objects.filter(lease_holder__isnull=False, lease_expires_at__gt=now).values_list(
            "pk", flat=True
        )
    )
    if not live:
        return []
    return list(
        Target.objects.filter(pk__in=live, campaign=campaign).values_list(
            "lease_holder_id", flat=True
        )
    )


def caller_rows(
    campaign, now: datetime, today: date, *, leases: list[int] | None = None
) -> list[CallerRow]:
    """Callers who called today or are active now, with their own totals today, in name
    order (no ranking). A caller flagged for claiming far more than they record is marked.
    ``leases``: ``live_leases()`` when the caller has them already."""
    from phonebank.accounts.models import User

    recent = now - timedelta(minutes=ACTIVE_MINUTES)
    holding = set(live_leases(campaign, now) if leases is None else leases)
    calling = set(
        CallAttempt.objects.filter(campaign=campaign, ended_at__gte=recent)
        .values_list("caller_id", flat=True)
        .distinct()
    )
    per_caller: dict[int, Funnel] = defaultdict(Funnel)
    # One row per caller and outcome on a day (the key is campaign, caller, day, outcome):
    # no GROUP BY, which would lead SQLite to the key's index (the campaign's every day)
    # instead of (campaign, day): 9 against 0.2 ms with 72 callers over 120 days.
    for caller_id, outcome, n in CallerDayStat.objects.filter(
        campaign=campaign, day=today
    ).values_list("caller_id", "outcome", "calls"):
        per_caller[caller_id].add(outcome, n)
    ids = set(per_caller) | holding | calling
    ids.discard(None)
    if not ids:
        return []
    flags = {
        w.caller_id: w
        for w in ClaimWindow.objects.filter(
            caller_id__in=ids, flagged_on=now.astimezone(UTC).date()
        )
    }
    names = dict(User.objects.filter(pk__in=ids).values_list("pk", "username"))
    return sorted(
        (
            CallerRow(
                username=names.get(pk, "?"),
                active=pk in holding or pk in calling,
                holding=pk in holding,
                today=per_caller.get(pk, Funnel()),
                flagged=flags.get(pk),
            )
            for pk in ids
        ),
        key=lambda r: r.username,
    )


@dataclass
class QueueHealth:
    statuses: dict[str, int] = field(default_factory=dict)
    waiting_retry: int = 0  # to call again once their retry time comes
    due: int = 0  # to call now, as far as retries go
    waiting_hours: int = 0  # due, but outside their calling hours now
    callbacks_due: int = 0
    callbacks_later: int = 0
    leased: int = 0  # being called now
    next_retry_at: datetime | None = None
    next_callback_at: datetime | None = None
    next_window_at: datetime | None = None  # when calling hours next open, if closed now

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def callable_now(self) -> int:
        """Contacts a claim could hand out now (leases being called subtracted)."""
        open_due = self.due + self.callbacks_due - self.waiting_hours
        return max(0, open_due - self.leased)


def queue_health(campaign, now: datetime, *, leases: list[int] | None = None) -> QueueHealth:
    """Where a campaign's contacts stand: by status, and why those still to call are not
    callable now (retry time, calling hours, being called): the counts by status
    (``targetcounts``), then counts on the queue's index of those waiting for a retry or a
    callback. ``leases``: ``live_leases()`` when the caller has them already."""
    health = QueueHealth(statuses=targetcounts.status_counts([campaign.pk])[campaign.pk])
    mine = Target.objects.filter(campaign=campaign)
    later = mine.filter(status=TargetStatus.OPEN, next_call_at__gt=now)
    agg = later.aggregate(n=Count("id"), first=Min("next_call_at"))
    health.waiting_retry, health.next_retry_at = agg["n"], agg["first"]
    health.due = health.statuses[TargetStatus.OPEN] - health.waiting_retry
    callbacks = mine.filter(status=TargetStatus.CALLBACK)
    agg = callbacks.filter(next_call_at__gt=now).aggregate(n=Count("id"), first=Min("next_call_at"))
    health.callbacks_later, health.next_callback_at = agg["n"], agg["first"]
    health.callbacks_due = health.statuses[TargetStatus.CALLBACK] - health.callbacks_later
    health.leased = len(live_leases(campaign, now) if leases is None else leases)
    zones = calling_selectors.campaign_zones(campaign)
    open_zones = set(calling_selectors.open_zones(campaign, now))
    closed = [z for z in zones if z not in open_zones]
    if closed and len(zones) == 1:
        health.waiting_hours = health.due + health.callbacks_due
    elif closed:
        due = Q(status=TargetStatus.OPEN) & (
            Q(next_call_at__isnull=True) | Q(next_call_at__lte=now)
        )
        due |= Q(status=TargetStatus.CALLBACK, next_call_at__lte=now)
        health.waiting_hours = mine.filter(due, contact__timezone__in=closed).count()
    if closed:
        starts = [
            at
            for z in closed
            if (at := hours.state(campaign.schedule, z or campaign.default_timezone, now)[1])
        ]
        health.next_window_at = min(starts) if starts else None
    return health


def dry_reason(health: QueueHealth, *, trusted: bool) -> tuple[str, int, datetime | None]:
    """(reason, contacts still to call later, when the next becomes callable) for a claim
    that found nobody to call."""
    later = health.waiting_retry + health.callbacks_later
    if health.total == 0:
        return DryReason.EMPTY, 0, None
    now_due = health.due + health.callbacks_due
    if now_due == 0:
        upcoming = [t for t in (health.next_retry_at, health.next_callback_at) if t]
        first = min(upcoming) if upcoming else None
        if health.waiting_retry:
            return DryReason.RETRY, later, first
        if health.callbacks_later:
            return DryReason.CALLBACKS, later, first
        return DryReason.FINISHED, 0, None
    if health.waiting_hours >= now_due:
        return DryReason.HOURS, later + now_due, health.next_window_at
    if health.leased >= now_due - health.waiting_hours:
        return DryReason.LEASED, later + now_due, None
    return DryReason.RESERVED, later + now_due, None


def dry_events(campaign, limit: int = 8) -> list[QueueDry]:
    return list(QueueDry.objects.filter(campaign=campaign).order_by("-at")[:limit])


@dataclass
class CampaignDashboard:
    today: date
    start: date
    period: int
    today_funnel: Funnel
    funnel: Funnel
    outcomes: dict[str, int]
    days: list[DayRow]
    provinces: list[GroupRow]
    hours: list[GroupRow]
    callers: list[CallerRow]
    queue: QueueHealth
    dry: list[QueueDry]


def campaign_dashboard(campaign, now: datetime, *, period: int = 30) -> CampaignDashboard:
    """Everything the campaign dashboard shows, from the rollups and the queue index."""
    today = today_for(campaign, now)
    start = today - timedelta(days=period - 1)
    ids = [campaign.pk]
    outcomes = outcome_totals(ids)
    leases = live_leases(campaign, now)
    return CampaignDashboard(
        today=today,
        start=start,
        period=period,
        today_funnel=funnel_of(outcome_totals(ids, day=today)),
        funnel=funnel_of(outcomes),
        outcomes=outcomes,
        days=day_series(ids, start, today),
        provinces=province_rows(ids),
        hours=hour_rows(ids),
        callers=caller_rows(campaign, now, today, leases=leases),
        queue=queue_health(campaign, now, leases=leases),
        dry=dry_events(campaign),
    )


@dataclass
class ObjectionRow:
    entry: object  # PlaybookEntry
    times: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    weeks: list[int] = field(default_factory=list)  # times per week, oldest first

    def share(self, outcome: str) -> float | None:
        return self.outcomes.get(outcome, 0) / self.times if self.times else None

    @property
    def declared_share(self) -> float | None:
        return self.share(Outcome.DECLARED)

    @property
    def listened_share(self) -> float | None:
        if not self.times:
            return None
        return sum(self.outcomes.get(o, 0) for o in LISTENED) / self.times


@dataclass
class ObjectionAnalytics:
    rows: list[ObjectionRow]
    weeks: list[date]  # the Monday of each week shown
    reached: int  # conversations, for "came up in x% of them"
    baseline: ObjectionRow  # all conversations, as if one objection, to compare with


def objection_analytics(campaign, now: datetime, *, weeks: int = 12) -> ObjectionAnalytics:
    """How often each playbook objection came up, what the call's outcome was, and how often
    it came up week by week."""
    today = today_for(campaign, now)
    monday = today - timedelta(days=today.weekday())
    mondays = [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    entries = list(campaign.playbook.all())
    rows = {e.pk: ObjectionRow(e, weeks=[0] * weeks) for e in entries}
    stats = ObjectionStat.objects.filter(campaign=campaign)
    for entry_id, outcome, n in stats.values_list("entry_id", "outcome").annotate(n=Sum("calls")):
        row = rows.get(entry_id)
        if row is not None:
            row.times += n
            row.outcomes[outcome] = row.outcomes.get(outcome, 0) + n
    recent = (
        stats.filter(day__gte=mondays[0]).values_list("entry_id", "day").annotate(n=Sum("calls"))
    )
    for entry_id, day, n in recent:
        row = rows.get(entry_id)
        if row is not None:
            row.weeks[(day - mondays[0]).days // 7] += n
    reached = {o: n for o, n in outcome_totals([campaign.pk]).items() if o in REACHED}
    baseline = ObjectionRow(None, times=sum(reached.values()), outcomes=reached)
    ordered = sorted(rows.values(), key=lambda r: (-r.times, r.entry.order, r.entry.pk))
    return ObjectionAnalytics(ordered, mondays, baseline.times, baseline)


def overview_today(campaigns: list, now: datetime) -> date:
    """The last day of the overview's series: the latest of the campaigns' todays."""
    return max((today_for(c, now) for c in campaigns), default=now.astimezone(UTC).date())


@dataclass
class CampaignRow:
    campaign: object
    funnel: Funnel
    today: Funnel
    to_call: int


@dataclass
class Overview:
    today: date
    campaigns: list[CampaignRow]
    days: list[DayRow]
    total: Funnel
    registry: dict[str, int]
    active_callers: int


def overview(campaigns: list, now: datetime, *, period: int = 30) -> Overview:
    """Every campaign side by side, and the registry's totals (admins)."""
    from phonebank.registry.models import Declaration, DeclarationStatus

    todays = {c.pk: today_for(c, now) for c in campaigns}
    today = overview_today(campaigns, now)
    ids = [c.pk for c in campaigns]
    all_time: dict[int, Funnel] = defaultdict(Funnel)
    on_day: dict[int, Funnel] = defaultdict(Funnel)
    stats = DayStat.objects.filter(campaign_id__in=ids)
    for cid, outcome, n in stats.values_list("campaign_id", "outcome").annotate(n=Sum("calls")):
        all_time[cid].add(outcome, n)
    recent = stats.filter(day__in=set(todays.values()))
    for cid, day, outcome, n in recent.values_list("campaign_id", "day", "outcome").annotate(
        n=Sum("calls")
    ):
        if todays[cid] == day:
            on_day[cid].add(outcome, n)
    if targetcounts.kept():  # PostgreSQL: counting 80,000 targets there takes ≈ 20 ms
        to_call = {
            cid: counts[TargetStatus.OPEN] + counts[TargetStatus.CALLBACK]
            for cid, counts in targetcounts.status_counts(ids).items()
        }
    else:  # SQLite: two ranges of the queue index, ≈ 4 ms at 80,000
        to_call = dict(
            Target.objects.filter(
                campaign_id__in=ids, status__in=[TargetStatus.OPEN, TargetStatus.CALLBACK]
            )
            .values_list("campaign_id")
            .annotate(n=Count("id"))
            .order_by()
        )
    total = Funnel()
    for f in all_time.values():
        for name in ("dialled", "reached", "listened", "declared"):
            setattr(total, name, getattr(total, name) + getattr(f, name))
    registry = {"phone": 0, "web": 0, "withdrawn": 0}
    for source, status, n in (
        # COUNT(*): read from the (source, status) index alone, on PostgreSQL too
        Declaration.objects.values_list("source", "status").annotate(n=Count("*")).order_by()
    ):
        registry[source] = registry.get(source, 0) + n
        if status == DeclarationStatus.WITHDRAWN:
            registry["withdrawn"] += n
    # By campaign, so that the (campaign, ended_at) index serves it: on ended_at alone
    # SQLite read every call's index entry (≈ 1 s at 5,000,000 calls).
    active = (
        CallAttempt.objects.filter(
            campaign_id__in=ids, ended_at__gte=now - timedelta(minutes=ACTIVE_MINUTES)
        )
        .values("caller_id")
        .distinct()
        .count()
    )
    return Overview(
        today=today,
        campaigns=[
            CampaignRow(c, all_time[c.pk], on_day[c.pk], to_call.get(c.pk, 0)) for c in campaigns
        ],
        days=day_series(ids, today - timedelta(days=period - 1), today),
        total=total,
        registry=registry,
        active_callers=active,
    )


def caller_totals(campaign, caller, *, day: date | None = None) -> dict[str, int]:
    """One caller's own calls by outcome in a campaign, all time or on one day (their
    stats)."""
    totals = {code: 0 for code in Outcome.values}
    qs = CallerDayStat.objects.filter(campaign=campaign, caller=caller)
    if day is not None:
        qs = qs.filter(day=day)
    for outcome, n in qs.values_list("outcome").annotate(n=Sum("calls")):
        totals[outcome] = n
    return totals


def export_list(campaign, limit: int = 20) -> list:
    """A campaign's most recent exports, newest first, with who asked (one query)."""
    from phonebank.dashboards.models import ExportJob

    return list(ExportJob.objects.filter(campaign=campaign).select_related("requested_by")[:limit])


def export_for_requester(campaign, user, pk: int):
    """An export of this campaign that ``user`` asked for; 404 for anyone else's."""
    from django.shortcuts import get_object_or_404

    from phonebank.dashboards.models import ExportJob

    return get_object_or_404(
        ExportJob.objects.select_related("campaign"),
        pk=pk,
        campaign=campaign,
        requested_by=user,
    )


def campaign_stats(campaign, caller, now: datetime | None = None) -> dict:
    """The stats API's answer from the rollups (a few hundred rows whatever the number of
    calls): the whole campaign, or only ``caller``'s own calls when given."""
    from django.utils import timezone

    today = today_for(campaign, now or timezone.now())
    if caller is None:
        totals = outcome_totals([campaign.pk])
        on_day = outcome_totals([campaign.pk], day=today)
    else:
        totals = caller_totals(campaign, caller)
        on_day = caller_totals(campaign, caller, day=today)
    funnel, today_funnel = funnel_of(totals), funnel_of(on_day)
    return {
        "campaign": campaign.slug,
        "scope": "campaign" if caller is None else "caller",
        "outcomes": totals,
        "calls": funnel.dialled,
        "funnel": _funnel_dict(funnel),
        "contact_rate": funnel.contact_rate,
        "day": today.isoformat(),
        "calls_today": today_funnel.dialled,
        "declared_today": today_funnel.declared,
        "today": _funnel_dict(today_funnel),
    }


def _funnel_dict(funnel: Funnel) -> dict[str, int]:
    return {
        "dialled": funnel.dialled,
        "reached": funnel.reached,
        "listened": funnel.listened,
        "declared": funnel.declared,
    }
