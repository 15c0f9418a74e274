"""Writes for dashboards: the rollups each outcome adds to, their rebuild, and the record of
when (and why) a campaign's queue ran dry."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.cache import cache
from django.db import connection, transaction

from phonebank.audit.services import log_action
from phonebank.dashboards import rollups
from phonebank.dashboards.models import QueueDry

DRY_EVERY_SECONDS = 300  # one record per campaign per five minutes is enough to see a pattern


def rollups_add(
    *,
    campaign_id: int,
    caller_id: int | None,
    ended_at: datetime,
    outcome: str,
    province: str,
    zone: str,
    objections: Iterable[int] = (),
) -> None:
    """Count one call in every rollup. Call inside the outcome's transaction, so the counts
    and the calls can never disagree."""
    one = rollups.Rollups()
    one.add_call(
        campaign_id=campaign_id,
        caller_id=caller_id,
        ended_at=ended_at,
        outcome=outcome,
        province=province,
        zone=zone,
        objections=objections,
    )
    rollups.write(one)


def rollups_add_from(*, source: str, **call) -> list[tuple[str, list]]:
    """``rollups_add`` (``call`` is its arguments) as statements and parameters, to run
    inside the very statement that records the call (a data-modifying WITH on PostgreSQL;
    ``source`` names the row it wrote): the counts and the calls still cannot disagree."""
    one = rollups.Rollups()
    one.add_call(**call)
    return rollups.write_from(one, source)


def rollups_rebuild(*, campaign, actor=None, write: bool = True) -> dict[str, int]:
    """Compute a campaign's rollups again from its calls and (unless ``write`` is False)
    replace the stored ones; returns how many counters differed, per table (empty: none).

    The bulk is computed outside any lock; then, with new calls held off (SQLite: the
    writers' lock, as outcomes take it; PostgreSQL: a SHARE lock on the calls table), the
    calls recorded meanwhile are added and the tables replaced, so no call is missed or
    counted twice however busy the campaign is.
    """
    from phonebank.calling.models import CallAttempt
    from phonebank.calling.services import _writers_queue

    upto = CallAttempt.objects.filter(campaign=campaign).order_by("-pk").values_list("pk")[:1]
    upto_id = upto[0][0] if upto else 0
    fresh = rollups.compute(campaign.pk, upto_id=upto_id)
    with _writers_queue(), transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                table = connection.ops.quote_name(CallAttempt._meta.db_table)
                cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")
        later = rollups.compute(campaign.pk, after_id=upto_id)
        for name, counter in later.tables().items():
            fresh.tables()[name].update(counter)
        differed = rollups.differences(rollups.stored(campaign.pk), fresh)
        if write and differed:
            rollups.delete(campaign.pk)
            rollups.write(fresh)
        if write:
            log_action(campaign, "dashboards.rollups.rebuilt", actor=actor, differed=differed)
    return differed


def queue_dry_note(*, campaign, trusted: bool, now: datetime) -> QueueDry | None:
    """Record that a claim found nobody to call, with the reason, at most once per campaign
    every DRY_EVERY_SECONDS (the dashboard shows when and why the queue ran dry).
    ``trusted``: the claiming caller is trusted in this campaign (or staff)."""
    from phonebank.dashboards import selectors

    if not cache.add(f"phonebank:dry:{campaign.pk}", 1, DRY_EVERY_SECONDS):
        return None
    health = selectors.queue_health(campaign, now)
    reason, waiting, next_at = selectors.dry_reason(health, trusted=trusted)
    return QueueDry.objects.create(
        campaign=campaign, at=now, reason=reason, waiting=waiting, next_at=next_at
    )
