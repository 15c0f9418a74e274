"""Writes for the registry: declarations, withdrawals, sealing them into the log, and the
public form's defences (throttles, spent proof-of-work challenges)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from phonebank.lib import provinces
from phonebank.lib.errors import DomainError
from phonebank.registry.models import (
    Declaration,
    DeclarationOrganisation,
    DeclarationStatus,
    SpentChallenge,
    Throttle,
    Withdrawal,
)
from phonebank.tlog import records
from phonebank.tlog import selectors as log_selectors
from phonebank.tlog import services as log_services
from phonebank.tlog.models import Checkpoint

ALIAS_MAX = 64
_TRIES = 3  # draws of a random key before giving up (a clash is a 1 in 2^63 event)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud over the phone
_RECEIPT_DOMAIN = b"phonebank receipt v1\n"


def receipt_new() -> str:
    """A receipt code of 80 random bits, as 16 characters in groups of four."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def receipt_normal(code: str) -> str:
    """The code's 16 characters, upper-case, without separators (or "" when it has not)."""
    normal = "".join(c for c in (code or "").upper() if c.isascii() and c.isalnum())
    return normal if len(normal) == 16 else ""


def receipt_hash(code: str) -> str:
    """The commitment to a receipt code the log publishes: SHA-256 of a domain label and the
    normalised code. With 80 random bits behind it, nobody can find the code from it; its
    holder proves which entry is theirs by showing the code."""
    return hashlib.sha256(_RECEIPT_DOMAIN + receipt_normal(code).encode()).hexdigest()


@transaction.atomic
def declaration_record(
    *,
    alias: str,
    organisations: list[str],
    allowed: set[str],
    source: str,
    consent: bool,
    province: str = "",
    on: date | None = None,
) -> tuple[Declaration, str]:
    """Record a declaration made freely; returns it and its receipt code (shown once).

    Refuses without explicit consent, without an alias, or with an organisation the
    campaign does not offer. The declaration waits for the next sealed batch to enter the
    log and the public pages.
    """
    alias = " ".join((alias or "").split())
    if consent is not True:
        raise DomainError(_("A declaration needs the person's explicit agreement."))
    if not alias:
        raise DomainError(_("Give the alias the person chose."))
    if len(alias) > ALIAS_MAX:
        raise DomainError(_("The alias may have at most %(n)d characters.") % {"n": ALIAS_MAX})
    codes = sorted(set(organisations or []))
    if not codes:
        raise DomainError(_("Choose at least one organisation."))
    unknown = [c for c in codes if c not in allowed]
    if unknown:
        raise DomainError(_("Unknown organisation: %(codes)s.") % {"codes": ", ".join(unknown)})
    province = (province or "").upper()
    if province and province not in provinces.BY_CODE:
        raise DomainError(_("Unknown province."))
    day = on or timezone.localdate()
    for attempt in range(_TRIES):
        code = receipt_new()
        try:
            with transaction.atomic():  # a savepoint: a clash of random keys undoes only this
                declaration = Declaration.objects.create(
                    alias=alias,
                    province=province,
                    declared_on=day,
                    source=source,
                    receipt_hash=receipt_hash(code),
                )
                DeclarationOrganisation.objects.bulk_create(
                    DeclarationOrganisation(declaration=declaration, code=c) for c in codes
                )
        except IntegrityError:  # the same random id or receipt as another row: draw again
            if attempt == _TRIES - 1:
                raise
        else:
            return declaration, code
    raise AssertionError("unreachable")  # pragma: no cover


@transaction.atomic
def declaration_withdraw(*, code: str) -> Withdrawal:
    """Withdraws the declaration a receipt code belongs to: a new entry for the log.

    The declaration stays (the log never forgets); it stops counting once the withdrawal
    is sealed.
    """
    if not receipt_normal(code):
        raise DomainError(
            _("A receipt code has 16 letters and digits, such as ABCD-EFGH-JKLM-NPQR.")
        )
    # Not while a batch is being sealed: sealing rewrites the batch's rows (registry_publish).
    log_services.log_lock()
    declaration = (
        Declaration.objects.select_for_update().filter(receipt_hash=receipt_hash(code)).first()
    )
    if declaration is None:
        raise DomainError(_("No declaration has this receipt code. Check it and try again."))
    if declaration.status == DeclarationStatus.WITHDRAWN:
        raise DomainError(_("This declaration has already been withdrawn."))
    declaration.status = DeclarationStatus.WITHDRAWN
    declaration.save(update_fields=["status"])
    for attempt in range(_TRIES):
        try:
            with transaction.atomic():  # a savepoint, as in declaration_record
                return Withdrawal.objects.create(
                    declaration=declaration, withdrawn_on=timezone.localdate()
                )
        except IntegrityError:
            if attempt == _TRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


# --- sealing batches into the log -------------------------------------------------------


@dataclass(frozen=True)
class Sealed:
    added: int
    size: int
    checkpoint: Checkpoint


def _declaration_entry(d: Declaration) -> bytes:
    return records.encode_declaration(
        alias=d.alias,
        organisations=sorted(o.code for o in d.organisations.all()),
        province=d.province,
        date=d.declared_on.isoformat(),
        source=d.source,
        receipt=d.receipt_hash,
    )


def _withdrawal_entry(w: Withdrawal) -> bytes:
    return records.encode_withdrawal(
        receipt=w.declaration.receipt_hash, date=w.withdrawn_on.isoformat()
    )


def _bump(table: dict, key: str, by: int) -> None:
    table[key] = table.get(key, 0) + by
    if not table[key]:
        del table[key]


def _counts_after(previous: dict, declarations: list, withdrawals: list) -> dict:
    """The published figures after a batch, from those before it and the batch's records:
    the same arithmetic the auditor does over the leaves (see records.Tally)."""
    counts = {
        "declarations": previous.get("declarations", 0) + len(declarations),
        "withdrawals": previous.get("withdrawals", 0) + len(withdrawals),
        "organisations": dict(previous.get("organisations", {})),
        "provinces": dict(previous.get("provinces", {})),
        "days": dict(previous.get("days", {})),
    }
    counts["active"] = counts["declarations"] - counts["withdrawals"]
    for rows, sign in ((declarations, 1), ([w.declaration for w in withdrawals], -1)):
        for d in rows:
            for o in d.organisations.all():
                _bump(counts["organisations"], o.code, sign)
            if d.province:
                _bump(counts["provinces"], d.province, sign)
            _bump(counts["days"], d.declared_on.isoformat(), sign)
    return counts


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _rewrite_shuffled(declarations: list, withdrawals: list) -> None:
    """Writes the batch's rows again, in the batch's shuffled order, with their log indexes.

    Deleted and inserted, not updated: on PostgreSQL an update keeps a row on its page when
    it fits there, while inserts are placed one after the other, so after the seal neither
    the rows' places in the table (`ctid`, the order of a plain `SELECT`) nor the
    transaction that wrote them (`xmin`, until now the call's) follow the order in which the
    declarations were made; the organisation rows, which nothing else rewrites, included.
    The old versions are dead rows until VACUUM (docs/security.md). On SQLite the random
    keys already decide where rows are stored; there the rewrite only costs a little.
    """
    organisations = [o for d in declarations for o in d.organisations.all()]
    batch = {d.pk for d in declarations}
    for chunk in _chunks([w.pk for w in withdrawals]):
        Withdrawal.objects.filter(pk__in=chunk).delete()
    for chunk in _chunks(list(batch)):
        DeclarationOrganisation.objects.filter(declaration_id__in=chunk).delete()
        Declaration.objects.filter(pk__in=chunk).delete()
    Declaration.objects.bulk_create(declarations, batch_size=500)
    DeclarationOrganisation.objects.bulk_create(organisations, batch_size=500)
    Withdrawal.objects.bulk_create(withdrawals, batch_size=500)
    # Declarations sealed before and withdrawn since were last written by the withdrawal's
    # request (their status): now by the seal, like the withdrawal itself.
    earlier = [w.declaration_id for w in withdrawals if w.declaration_id not in batch]
    for chunk in _chunks(earlier):
        Declaration.objects.filter(pk__in=chunk).update(status=F("status"))


def registry_publish(*, now: datetime | None = None) -> Sealed | None:
    """Seals every pending declaration and withdrawal into the log and signs a checkpoint.

    The batch is shuffled (declarations, then withdrawals, each in a random order) so that
    the order of entries says nothing about when each was made, and its rows are written
    again in that order (`_rewrite_shuffled`). None when nothing waits.
    """
    now = now or timezone.now()
    with transaction.atomic():
        log_services.log_lock()
        declarations = list(
            Declaration.objects.filter(log_index__isnull=True).prefetch_related("organisations")
        )
        withdrawals = list(
            Withdrawal.objects.filter(log_index__isnull=True)
            .select_related("declaration")
            .prefetch_related("declaration__organisations")
        )
        if not declarations and not withdrawals:
            return None
        shuffle = secrets.SystemRandom().shuffle
        shuffle(declarations)
        shuffle(withdrawals)
        entries = [_declaration_entry(d) for d in declarations]
        entries += [_withdrawal_entry(w) for w in withdrawals]
        appended = log_services.log_append(entries)
        for offset, row in enumerate([*declarations, *withdrawals]):
            row.log_index = appended.first + offset
        _rewrite_shuffled(declarations, withdrawals)
        last = log_selectors.latest_checkpoint()
        counts = _counts_after(last.counts if last else {}, declarations, withdrawals)
        checkpoint = log_services.checkpoint_sign(counts=counts, now=now)
    return Sealed(added=len(entries), size=checkpoint.size, checkpoint=checkpoint)


def registry_publish_due(batch_seconds: int, *, now: datetime | None = None) -> Sealed | None:
    """Seals the pending batch when a batch boundary has passed since the last checkpoint.

    Boundaries fall on multiples of `batch_seconds` since the epoch (the top of each hour by
    default), so a lone declaration waits for the others of its period, never sealed alone
    the moment it arrives.
    """
    now = now or timezone.now()
    last = log_selectors.latest_checkpoint()
    period = int(now.timestamp()) // batch_seconds
    if last is not None and int(last.created_at.timestamp()) // batch_seconds >= period:
        return None
    pending = (
        Declaration.objects.filter(log_index__isnull=True).exists()
        or Withdrawal.objects.filter(log_index__isnull=True).exists()
    )
    return registry_publish(now=now) if pending else None


# --- the public form's defences ----------------------------------------------------------


def _address_key(purpose: str, address: str) -> str:
    """A keyed hash of (purpose, address): the address itself is never stored."""
    return salted_hmac(
        "phonebank.registry.throttle", f"{purpose}\0{address}", algorithm="sha256"
    ).hexdigest()


def throttle_hit(
    purpose: str, address: str, *, limit: int, window: timedelta, now: datetime | None = None
) -> bool:
    """Counts one use by an address; False when it has used `limit` in the current window."""
    now = now or timezone.now()
    key = _address_key(purpose, address)
    with transaction.atomic():
        row, _created = Throttle.objects.select_for_update().get_or_create(
            key=key, defaults={"window_start": now, "count": 0}
        )
        if now - row.window_start >= window:
            row.window_start, row.count = now, 0
        if row.count >= limit:
            return False
        row.count += 1
        row.save(update_fields=["window_start", "count"])
    return True


def throttles_prune(
    *, older_than: timedelta = timedelta(days=1), now: datetime | None = None
) -> int:
    """Deletes expired counters and spent challenges: hashes are kept only while needed."""
    now = now or timezone.now()
    deleted, _ = Throttle.objects.filter(window_start__lt=now - older_than).delete()
    spent, _ = SpentChallenge.objects.filter(expires_at__lt=now).delete()
    return deleted + spent


def challenge_spend(signature: str, expires_at: datetime) -> bool:
    """Marks a solved challenge as used; False when it was used before (a replay)."""
    try:
        with transaction.atomic():
            SpentChallenge.objects.create(signature=signature[:128], expires_at=expires_at)
    except IntegrityError:
        return False
    return True
