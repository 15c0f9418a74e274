"""Sign-in throttling keys volunteers' addresses only as keyed hashes (django-axes stores
whatever this returns)."""

from django.conf import settings


def client_ip_hash(request) -> str:
    # Behind the reverse proxy REMOTE_ADDR is the proxy; the proxy's X-Forwarded-For is set
    # by our own proxy configuration (docs/deployment.md), never trusted from the client.
    address = request.META.get("REMOTE_ADDR", "")
    if getattr(settings, "PHONEBANK_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            address = forwarded.split(",")[-1].strip()
    return "h:" + settings.PHONEBANK_KEYRING.keyed_hash(address, "ip")[:32]
