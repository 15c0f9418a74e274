"""Sign-in throttling keeps volunteers' addresses only as keyed hashes.

django-axes stores whatever this returns in a GenericIPAddressField (an ``inet`` column on
PostgreSQL), so the hash is written as an IPv6 address in the unique-local range fd00::/8:
a valid address, stable per real address, and not the real one.
"""

from django.conf import settings


def client_address(request) -> str:
    """The client's address, for throttling only (hash it before storing anything)."""
    # Behind the reverse proxy REMOTE_ADDR is the proxy; the proxy's X-Forwarded-For is set
    # by our own proxy configuration, never trusted from the client unless configured.
    address = request.META.get("REMOTE_ADDR", "")
    if getattr(settings, "PHONEBANK_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            address = forwarded.split(",")[-1].strip()
    return address


def client_ip_hash(request) -> str:
    address = client_address(request)
    digits = "fd" + settings.PHONEBANK_KEYRING.keyed_hash(address, "ip")[:30]
    return ":".join(digits[i : i + 4] for i in range(0, 32, 4))


def attempts_prune(*, now=None) -> int:
    """Deletes sign-in throttling records (hashed addresses, usernames, browsers) once their
    cool-off is over: a lock never outlives it, so they are of no further use."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.utils import timezone

    limit = (now or timezone.now()) - settings.AXES_COOLOFF_TIME
    return sum(
        model.objects.filter(attempt_time__lt=limit).delete()[0]
        for model in (AccessAttempt, AccessFailureLog, AccessLog)
    )
