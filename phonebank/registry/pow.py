"""Proof of work for the public form (the ALTCHA v1 scheme, through the `altcha` package).

The server hands out a signed challenge: find n ≤ max_number with SHA-256(salt ‖ n) equal to
the challenge. A browser solves it in about a second with WebCrypto (registry.js); a bot that
wants to post thousands of declarations pays that second each time. The salt carries an
expiry, the signature is an HMAC under a key derived from SECRET_KEY, and a solved challenge
is spent once (services.challenge_spend).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import altcha
from django.utils import timezone
from django.utils.crypto import salted_hmac

MAX_NUMBER = 100_000  # ~50,000 hashes on average: well under a second in a browser
LIFETIME = timedelta(minutes=20)


def _key() -> str:
    return salted_hmac("phonebank.registry.pow", "altcha-hmac-key", algorithm="sha256").hexdigest()


def challenge_new(*, max_number: int = MAX_NUMBER, now: datetime | None = None) -> dict:
    """A challenge as the page embeds it (JSON: algorithm, challenge, maxnumber, salt, signature)."""
    expires = (now or timezone.now()) + LIFETIME
    challenge = altcha.create_challenge_v1(
        altcha.ChallengeOptionsV1(hmac_key=_key(), max_number=max_number, expires=expires)
    )
    return {
        "algorithm": challenge.algorithm,
        "challenge": challenge.challenge,
        "maxnumber": challenge.max_number,
        "salt": challenge.salt,
        "signature": challenge.signature,
    }


def solution_check(payload: str) -> tuple[str, datetime] | None:
    """(signature, expiry) of a valid, unexpired solution (base64 JSON); None otherwise."""
    try:
        data = json.loads(base64.b64decode(payload, validate=True))
        ok, _error = altcha.verify_solution_v1(data, _key(), check_expires=True)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if not ok or not isinstance(data, dict):
        return None
    params = parse_qs(str(data.get("salt", "")).partition("?")[2])
    try:
        expires = datetime.fromtimestamp(int(params["expires"][0]), tz=UTC)
    except (KeyError, ValueError, IndexError):
        return None
    return str(data["signature"]), expires


def solve(challenge: dict) -> str:
    """The payload a browser would post (for tests and the demo; the server never solves)."""
    solution = altcha.solve_challenge_v1(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxnumber"]
    )
    payload = {
        "algorithm": challenge["algorithm"],
        "challenge": challenge["challenge"],
        "number": solution.number,
        "salt": challenge["salt"],
        "signature": challenge["signature"],
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()
