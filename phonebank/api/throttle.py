"""A per-user fixed-window limit for API endpoints that integrations poll (the stats
endpoint). Counters live in Django's cache, so checking costs no database query: with the
default local-memory cache each server process counts on its own (docs/api.md)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60


def stats_allowed(user, now: float | None = None) -> bool:
    """Whether ``user`` may make one more stats request in this minute (and count it)."""
    limit = settings.PHONEBANK_STATS_RATE_PER_MIN
    if not limit:
        return True
    window = int((time.time() if now is None else now) // WINDOW_SECONDS)
    key = f"phonebank:stats-rate:{user.pk}:{window}"
    if cache.add(key, 1, WINDOW_SECONDS + 5):
        return True
    try:
        return cache.incr(key) <= limit
    except ValueError:  # expired between add() and incr(): a new window
        cache.add(key, 1, WINDOW_SECONDS + 5)
        return True
