"""Calling hours in a contact's local time.

A schedule is windows for every day, optionally different per weekday:

    09:00-12:00,14:00-21:00                      every day
    mon-fri 09:00-12:00,14:00-21:00; sat 10:00-16:00; sun -
    00:00-24:00                                  all day

Days a rule does not name take the rule without days, or no calls at all when there is none.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT = "09:00-12:00,14:00-21:00"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_DAYS = re.compile(r"^([a-z]{3})(?:-([a-z]{3}))?$")

Spans = list[tuple[int, int]]  # minutes after midnight, [start, end)


class HoursError(ValueError):
    pass


def parse(text: str) -> Spans:
    """One day's windows, sorted; raises HoursError with the reason. "-" means none."""
    text = (text or "").replace(" ", "")
    if text == "-":
        return []
    spans: Spans = []
    for part in text.split(","):
        if not part:
            continue
        m = _SPAN.match(part)
        if not m:
            raise HoursError(f"{part!r} is not a window like 09:00-12:00")
        h1, m1, h2, m2 = map(int, m.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise HoursError(f"{part!r} is not a time of day")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise HoursError(f"{part!r} ends before it starts")
        spans.append((start, end))
    if not spans:
        raise HoursError("give at least one window, like 09:00-12:00")
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise HoursError("windows overlap")
    return spans


def _day_range(text: str) -> list[int]:
    m = _DAYS.match(text)
    if not m or m.group(1) not in DAYS or (m.group(2) and m.group(2) not in DAYS):
        raise HoursError(f"{text!r} is not a day or days like mon or mon-fri")
    first = DAYS.index(m.group(1))
    last = DAYS.index(m.group(2)) if m.group(2) else first
    if last < first:
        raise HoursError(f"{text!r}: days run from mon to sun")
    return list(range(first, last + 1))


def parse_schedule(text: str) -> list[Spans]:
    """Seven lists of windows, Monday first."""
    default: Spans | None = None
    days: dict[int, Spans] = {}
    rules = [r.strip() for r in (text or "").lower().split(";") if r.strip()]
    if not rules:
        raise HoursError("give at least one window, like 09:00-12:00")
    for rule in rules:
        head, _, rest = rule.partition(" ")
        if _SPAN.match(head.split(",")[0].replace(" ", "")) or head == "-":
            if default is not None:
                raise HoursError("only one rule may leave out the days")
            default = parse(rule)
            continue
        spans = parse(rest)
        for day in _day_range(head):
            if day in days:
                raise HoursError(f"{DAYS[day]} is named twice")
            days[day] = spans
    return [days.get(d, default or []) for d in range(7)]


def format_spans(spans: Spans) -> str:
    if not spans:
        return "-"
    return ",".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in spans)


def normalise(text: str) -> str:
    """The canonical form of a schedule (raises HoursError)."""
    week = parse_schedule(text)
    if all(day == week[0] for day in week):
        return format_spans(week[0])
    rules: list[str] = []
    d = 0
    while d < 7:
        e = d
        while e + 1 < 7 and week[e + 1] == week[d]:
            e += 1
        days = DAYS[d] if d == e else f"{DAYS[d]}-{DAYS[e]}"
        rules.append(f"{days} {format_spans(week[d])}")
        d = e + 1
    return "; ".join(rules)


def is_open(spans: Spans, local: time) -> bool:
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in spans)


def state(week: list[Spans], zone: str, now: datetime) -> tuple[bool, datetime | None]:
    """(open now?, when that changes): the window's end if open, the next start if not.

    ``now`` is aware; the result is in the contact's zone. None: no window in the next week.
    """
    local = now.astimezone(ZoneInfo(zone))
    minute = local.hour * 60 + local.minute
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for start, end in week[local.weekday()]:
        if start <= minute < end:
            return True, _at(midnight, end)
    for offset in range(8):
        day = midnight + timedelta(days=offset)
        for start, _end in week[day.weekday()]:
            if offset or start > minute:
                return False, _at(day, start)
    return False, None


def _at(midnight: datetime, minute: int) -> datetime:
    """Local wall-clock time ``minute`` after ``midnight`` (24:00 is the next midnight)."""
    naive = midnight.replace(tzinfo=None) + timedelta(minutes=minute)
    return naive.replace(tzinfo=midnight.tzinfo)


def windows(
    week: list[Spans], zone: str, start: datetime, days: int
) -> list[tuple[datetime, datetime]]:
    """The calling windows from ``start``'s local day for ``days`` days, as aware datetimes."""
    tz = ZoneInfo(zone)
    first = start.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    out: list[tuple[datetime, datetime]] = []
    for offset in range(days):
        day = (first.replace(tzinfo=None) + timedelta(days=offset)).replace(tzinfo=tz)
        for s, e in week[day.weekday()]:
            out.append((_at(day, s), _at(day, e)))
    return out
