"""The synthetic call history of the large demo, simulated as the queue would have made it.

Pure: no Django, so it runs (and is tested) on plain inputs, and can run in a process of
its own while the contacts are sealed and written. Everything is in whole seconds since the
epoch (UTC); the contacts are all in China (UTC+8 all year), so their local day and hour are
plain arithmetic.

The model, in a few lines: every day of the period has a number of calling slots (fewer at
the start, when fewer volunteers had joined; more at weekends), spread over the calling hours
of the contacts' day with a peak in the evening; each slot is taken by one caller who is
active then, and goes to the earliest contact whose retry or callback is due, else to the next
contact never called. The outcome depends on the person (some almost never pick up) and on
what happened before (someone who listened once is more likely to declare); what follows it
is the campaign's retry rules, exactly as `calling.services._next_state` applies them.
"""

from __future__ import annotations

import bisect
import heapq
import random
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

DAY = 86_400
SHANGHAI = 8 * 3600  # UTC+8, no daylight saving time since 1991

# The order of calling.models.Outcome; codes index into it.
OUTCOMES = (
    "no_answer",
    "busy",
    "hung_up",
    "wrong_number",
    "invalid_number",
    "refused",
    "do_not_call",
    "callback",
    "listened",
    "declared",
)
NO_ANSWER, BUSY, HUNG_UP, WRONG, INVALID, REFUSED, DNC, CALLBACK, LISTENED, DECLARED = range(10)
REACHED = (HUNG_UP, WRONG, REFUSED, DNC, CALLBACK, LISTENED, DECLARED)

# The order of calling.models.TargetStatus.
STATUSES = ("open", "callback", "done", "exhausted", "closed", "dnc")
OPEN, S_CALLBACK, DONE, EXHAUSTED, CLOSED, S_DNC = range(6)
NO_CALLER = 255

# What a person who picks up says, by what happened on earlier calls: never talked before,
# listened before, agreed a callback. Weights per outcome in REACHED order (wrong numbers are
# decided per number, so 0 here).
_ANSWERED = {
    "first": (30, 0, 17, 4, 12, 34, 3),
    "listened": (10, 0, 15, 2, 14, 44, 15),
    "callback": (8, 0, 12, 2, 10, 50, 18),
}

# How likely a person is to pick up: (share of people, chance per call).
_PICKUP = ((0.5, 0.07), (0.37, 0.30), (0.13, 0.55))
INVALID_SHARE = 0.03  # numbers that turn out not to exist (first call: invalid number)
WRONG_SHARE = 0.015  # numbers of someone else (first answered call: wrong number)
BUSY_SHARE = 0.15  # of unanswered calls, busy rather than no answer

# Seconds a call lasts, by outcome: (shortest, longest).
DURATION = {
    NO_ANSWER: (25, 45),
    BUSY: (3, 10),
    HUNG_UP: (5, 60),
    WRONG: (10, 40),
    INVALID: (2, 8),
    REFUSED: (20, 180),
    DNC: (15, 90),
    CALLBACK: (40, 180),
    LISTENED: (180, 900),
    DECLARED: (420, 1500),
}

# Playbook objections ticked (bits of the demo playbook's entries 0-5, in its order): per
# outcome, how often any is ticked, and which can come up.
OBJECTIONS = {
    HUNG_UP: (0.15, (1,)),
    REFUSED: (0.5, (1, 2, 3)),
    DNC: (0.7, (5, 1)),
    CALLBACK: (0.6, (0, 4)),
    LISTENED: (0.65, (1, 2, 3, 0)),
    DECLARED: (0.55, (1, 2, 3)),
}
ENTRIES = 6  # the demo playbook's
# How often a caller writes a note, per outcome.
NOTES = {CALLBACK: 0.4, LISTENED: 0.25, DECLARED: 0.1, REFUSED: 0.05}

# Calls by hour of the contact's day (the calling hours 09-12 and 14-21): volunteers in the
# Americas call in their evening (the contacts' morning), in Europe in their morning and
# afternoon, in Australia and East Asia in their evening (the contacts' late afternoon).
HOUR_WEIGHTS = {9: 8, 10: 10, 11: 9, 14: 6, 15: 7, 16: 8, 17: 9, 18: 10, 19: 11, 20: 9}
REGIONS = {
    # region: (the zone in the caller's profile, hours of the contacts' day they call in)
    "americas": (("America/Toronto", "America/New_York", "America/Vancouver"), (9, 10, 11, 20)),
    "europe": (("Europe/Berlin", "Europe/London", "Europe/Paris"), (14, 15, 16, 17, 18, 19, 20)),
    "pacific": (("Australia/Sydney", "Australia/Melbourne", "Asia/Taipei"), (16, 17, 18, 19, 20)),
}


@dataclass(frozen=True)
class Caller:
    region: str
    zone: str
    joined: int  # day of the period they made their first call
    left: int  # day after their last (the period's length when still calling)
    weight: int  # how much they call, relative to others


@dataclass
class History:
    """Attempts in the order they ended, and every target's state after the last of them."""

    days: int
    first_day: int  # the period's first local day, in days since the epoch (UTC+8)
    # per attempt
    target: array = field(default_factory=lambda: array("i"))
    start: array = field(default_factory=lambda: array("q"))  # epoch seconds
    length: array = field(default_factory=lambda: array("H"))  # seconds
    caller: array = field(default_factory=lambda: array("B"))
    outcome: array = field(default_factory=lambda: array("B"))
    objections: array = field(default_factory=lambda: array("B"))  # bits of playbook entries
    note: array = field(default_factory=lambda: array("B"))  # 0: none, else the n-th note text
    # calls per (caller, local day of the period, hour, outcome) and per (playbook entry,
    # local day, outcome): flat, see by_hour_key and by_objection_key
    by_hour: array = field(default_factory=lambda: array("I"))
    by_objection: array = field(default_factory=lambda: array("I"))
    # per target
    status: bytearray = field(default_factory=bytearray)
    attempts: array = field(default_factory=lambda: array("H"))
    last: bytearray = field(default_factory=bytearray)  # 255: never called
    next_at: array = field(default_factory=lambda: array("q"))  # 0: none
    callback_caller: bytearray = field(default_factory=bytearray)

    def __len__(self) -> int:
        return len(self.target)

    def by_hour_items(self) -> Iterator[tuple[int, int, int, int, int]]:
        """(caller, local day since the epoch, hour, outcome, calls) for each count."""
        for key, n in enumerate(self.by_hour):
            if n:
                rest, o = divmod(key, len(OUTCOMES))
                rest, hour = divmod(rest, 24)
                who, day = divmod(rest, self.days)
                yield who, self.first_day + day, hour, o, n

    def by_objection_items(self) -> Iterator[tuple[int, int, int, int]]:
        """(playbook entry, local day since the epoch, outcome, calls) for each count."""
        for key, n in enumerate(self.by_objection):
            if n:
                rest, o = divmod(key, len(OUTCOMES))
                entry, day = divmod(rest, self.days)
                yield entry, self.first_day + day, o, n


def callers_plan(count: int, days: int, seed: int) -> list[Caller]:
    """``count`` volunteers: a third from the start, the rest joining over the period, a few
    stopping before its end."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets  # nosec B311
    regions = list(REGIONS)
    out = []
    for i in range(count):
        region = regions[i % len(regions)]
        joined = 0 if i < max(1, count // 3) else rng.randrange(days * 3 // 4)
        left = days if rng.random() > 0.1 else rng.randrange(joined + 1, days + 1)
        out.append(
            Caller(
                region=region,
                zone=rng.choice(REGIONS[region][0]),
                joined=joined,
                left=left,
                weight=rng.choice((1, 1, 2, 2, 3, 4)),
            )
        )
    return out


def _day_weights(days: int, rng: random.Random, first_day: int) -> list[float]:
    out = []
    for d in range(days):
        ramp = 0.35 + 0.65 * (d / max(1, days - 1)) ** 0.8
        weekday = (first_day + d + 3) % 7  # 1970-01-01 was a Thursday (3)
        out.append(ramp * (1.3 if weekday >= 5 else 1.0) * rng.uniform(0.85, 1.15))
    return out


def _cumulative(weights) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _slots_per_day(attempts: int, days: int, end: int, first_day: int, rng) -> list[int]:
    """``attempts`` shared among the days by their weights; on the last day only the calling
    hours before ``end`` count."""
    weights = _day_weights(days, rng, first_day)
    seconds_today = end + SHANGHAI - (first_day + days - 1) * DAY
    before = sum(w for x, w in HOUR_WEIGHTS.items() if (x + 1) * 3600 <= seconds_today)
    weights[-1] *= before / sum(HOUR_WEIGHTS.values())
    total = sum(weights)
    per_day = [int(attempts * w / total) for w in weights]
    for d in sorted(range(days), key=lambda d: -weights[d])[: attempts - sum(per_day)]:
        per_day[d] += 1
    return per_day


def _hour_slots(count: int, rng, *, before: int = 24) -> list[tuple[int, int]]:
    """(hour, slots) of one day: ``count`` shared among the calling hours that end by hour
    ``before``, by their weights."""
    weights = {x: w for x, w in HOUR_WEIGHTS.items() if x + 1 <= before}
    if not weights:
        return []
    total = sum(weights.values())
    out = {x: int(count * w / total) for x, w in weights.items()}
    hours = list(out)
    for _ in range(count - sum(out.values())):
        out[hours[rng.randrange(len(hours))]] += 1
    return list(out.items())


def simulate(
    *,
    targets: int,
    attempts: int,
    days: int,
    end: int,
    callers: list[Caller],
    retry: dict[int, tuple[int, int]],
    seed: int,
    progress=None,
) -> History:
    """About ``attempts`` calls to ``targets`` contacts over the ``days`` local days ending
    with the one holding ``end`` (epoch seconds), none after ``end``.

    ``retry``: outcome code -> (delay in minutes, most attempts ending so), the campaign's
    rules. Exactly ``attempts`` calls unless the queue runs dry (every contact finished or
    waiting) at some slot; deterministic for the same arguments.
    """
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets  # nosec B311
    rand, randrange = rng.random, rng.randrange
    heappush, heappop, bisect_right = heapq.heappush, heapq.heappop, bisect.bisect_right
    last_day = (end + SHANGHAI) // DAY
    first_day = last_day - days + 1
    h = History(days=days, first_day=first_day)
    status = h.status = bytearray(targets)  # OPEN
    att = h.attempts = array("H", bytes(2 * targets))
    last = h.last = bytearray(b"\xff" * targets)
    next_at = h.next_at = array("q", bytes(8 * targets))
    cb = h.callback_caller = bytearray(b"\xff" * targets)
    outcomes = len(OUTCOMES)
    by_hour = h.by_hour = array("I", bytes(4 * max(1, len(callers)) * days * 24 * outcomes))
    by_objection = h.by_objection = array("I", bytes(4 * ENTRIES * days * outcomes))
    pickup = [0.0] * targets  # chance the person picks up, drawn at the first call
    stage = bytearray(targets)  # 0 never talked, 1 listened, 2 callback agreed
    counts = [bytearray(targets) for _ in OUTCOMES]  # attempts per target ending so
    hung_up_counts = counts[HUNG_UP]

    stages = [_cumulative(_ANSWERED[k]) for k in ("first", "listened", "callback")]
    pickup_cum = _cumulative(s for s, _p in _PICKUP)
    pickup_chance = [p for _s, p in _PICKUP]
    # Per outcome code: duration (shortest, extra), objections (chance, entries), note chance,
    # retry (delay seconds, most) or None.
    length_lo = [DURATION[o][0] for o in range(len(OUTCOMES))]
    length_extra = [DURATION[o][1] - DURATION[o][0] + 1 for o in range(len(OUTCOMES))]
    obj_p = [OBJECTIONS.get(o, (0.0, ()))[0] for o in range(len(OUTCOMES))]
    obj_from = [OBJECTIONS.get(o, (0.0, (0,)))[1] for o in range(len(OUTCOMES))]
    note_p = [NOTES.get(o, 0.0) for o in range(len(OUTCOMES))]
    rules = [(retry[o][0] * 60, retry[o][1]) if o in retry else None for o in range(len(OUTCOMES))]
    terminal = {DECLARED: DONE, REFUSED: DONE, DNC: S_DNC, WRONG: CLOSED, INVALID: CLOSED}
    per_day = _slots_per_day(attempts, days, end, first_day, rng)

    queue: list[tuple[int, int]] = []  # (due, target) of retries and callbacks
    fresh = 0
    a_target, a_start, a_len = h.target.append, h.start.append, h.length.append
    a_caller, a_outcome = h.caller.append, h.outcome.append
    a_obj, a_note = h.objections.append, h.note.append

    for d in range(days):
        midnight = (first_day + d) * DAY - SHANGHAI  # the local day's start, in UTC seconds
        active = [i for i, c in enumerate(callers) if c.joined <= d < c.left] or list(
            range(len(callers))
        )
        on_today = bytearray(256)
        for i in active:
            on_today[i] = 1
        slots = []
        before = 24 if d < days - 1 else (end - midnight) // 3600
        for x, n in _hour_slots(per_day[d], rng, before=before):
            here = [i for i in active if x in REGIONS[callers[i].region][1]] or active
            hands = tuple(i for i in here for _ in range(callers[i].weight))
            base = midnight + x * 3600
            window_end = min(midnight + (12 if x < 12 else 21) * 3600, end) - 1
            slots.extend((base + randrange(3600), window_end, hands) for _ in range(n))
        slots.sort()
        for t, window_end, hands in slots:
            if queue and queue[0][0] <= t:
                i = heappop(queue)[1]
            elif fresh < targets:
                i = fresh
                fresh += 1
                pickup[i] = pickup_chance[bisect_right(pickup_cum, rand() * pickup_cum[-1])]
            else:
                continue  # nobody may be called now: the slot goes unused
            who = cb[i]
            if who == NO_CALLER or not on_today[who] or rand() >= 0.85:
                who = hands[randrange(len(hands))]
            # What came of it.
            n = att[i]
            if n == 0 and rand() < INVALID_SHARE:
                o = INVALID
            elif rand() >= pickup[i]:
                o = BUSY if rand() < BUSY_SHARE else NO_ANSWER
            elif not stage[i] and not hung_up_counts[i] and rand() < WRONG_SHARE:
                o = WRONG
            else:
                cum = stages[stage[i]]
                o = REACHED[bisect_right(cum, rand() * cum[-1])]
            length = length_lo[o] + randrange(length_extra[o])
            if t + length > window_end:
                length = window_end - t
            ended = t + length
            local = ended + SHANGHAI
            day = local // DAY - first_day
            by_hour[((who * days + day) * 24 + local % DAY // 3600) * outcomes + o] += 1
            a_target(i)
            a_start(t)
            a_len(length)
            a_caller(who)
            a_outcome(o)
            bits = 0
            if obj_p[o] and rand() < obj_p[o]:
                entries = obj_from[o]
                bits = 1 << entries[randrange(len(entries))]
                if randrange(3) == 0:
                    bits |= 1 << entries[randrange(len(entries))]
                for k in range(ENTRIES):
                    if bits >> k & 1:
                        by_objection[(k * days + day) * outcomes + o] += 1
            a_obj(bits)
            a_note(1 + randrange(3) if note_p[o] and rand() < note_p[o] else 0)
            # What follows it: calling.services._next_state.
            att[i] = n + 1
            last[i] = o
            counts[o][i] += 1
            if o == CALLBACK:
                stage[i] = 2
                status[i] = S_CALLBACK
                due = _callback_time(ended, rng)
                next_at[i] = due
                cb[i] = who
                heappush(queue, (due, i))
                continue
            cb[i] = NO_CALLER
            final = terminal.get(o)
            if final is not None:
                status[i] = final
                next_at[i] = 0
                continue
            if o == LISTENED:
                stage[i] = 1
            rule = rules[o]
            if rule is None or counts[o][i] >= rule[1]:
                status[i] = DONE if rule is None else EXHAUSTED
                next_at[i] = 0
            else:
                status[i] = OPEN
                due = ended + rule[0]
                next_at[i] = due
                heappush(queue, (due, i))
        if progress:
            progress(d + 1, days, len(h))
    return h


def _callback_time(ended: int, rng: random.Random) -> int:
    """When the person asked to be called back: mostly tomorrow, in the afternoon or evening
    of their day, sometimes later today or in a few days."""
    local = ended + SHANGHAI
    day = local // DAY
    offset = rng.choice((0, 1, 1, 1, 1, 2, 2, 3, 7))
    hour = rng.choice((10, 11, 14, 15, 16, 17, 18, 19, 20))
    due = (day + offset) * DAY + hour * 3600 + rng.choice((0, 15, 30, 45)) * 60 - SHANGHAI
    return due if due > ended + 1800 else due + DAY


def local_day_hour(moment: int) -> tuple[int, int]:
    """(days since the epoch, hour) of a moment on the contacts' wall clock."""
    local = moment + SHANGHAI
    return local // DAY, local % DAY // 3600


def outcome_mix(h: History) -> Counter:
    return Counter(OUTCOMES[o] for o in h.outcome)
