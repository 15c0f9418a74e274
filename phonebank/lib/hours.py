"""Calling hours in a contact's local time: "09:00-12:00,14:00-21:00"."""

from __future__ import annotations

import itertools
import re
from datetime import time

DEFAULT = "09:00-12:00,14:00-21:00"
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class HoursError(ValueError):
    pass


def parse(text: str) -> list[tuple[int, int]]:
    """Minutes after midnight for each window, sorted; raises HoursError with the reason."""
    spans: list[tuple[int, int]] = []
    for part in (text or "").replace(" ", "").split(","):
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


def format_spans(spans: list[tuple[int, int]]) -> str:
    return ",".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in spans)


def normalise(text: str) -> str:
    return format_spans(parse(text))


def is_open(spans: list[tuple[int, int]], local: time) -> bool:
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in spans)
