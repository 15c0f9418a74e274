"""Reads for the public registry. Everything shown comes from sealed entries only: a
declaration appears with its batch, never the moment it is made (so nobody watching the
page can match it to a call)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date

from django.db.models import Prefetch, QuerySet

from phonebank.campaigns.models import DEFAULT_ORGANISATIONS, Organisation
from phonebank.lib import provinces
from phonebank.registry.models import Declaration, DeclarationOrganisation
from phonebank.registry.services import receipt_hash, receipt_normal
from phonebank.tlog import merkle, note
from phonebank.tlog import selectors as log
from phonebank.tlog.models import Checkpoint
from phonebank.tlog.services import log_verifier


def organisation_names(language: str) -> dict[str, str]:
    """Code → name in a language: the defaults, then any a campaign added."""
    column = 2 if language.startswith("zh-hant") else 1 if language.startswith("zh") else 0
    names = {code: names[column] for code, *names in DEFAULT_ORGANISATIONS}
    field = ("name_en", "name_zh_hans", "name_zh_hant")[column]
    for code, name in Organisation.objects.order_by("-id").values_list("code", field):
        names.setdefault(code, name)
    return names


def published() -> Checkpoint | None:
    return log.latest_checkpoint()


def counts(checkpoint: Checkpoint | None) -> dict:
    """The figures published with a checkpoint (all zero before the first)."""
    empty = {"declarations": 0, "withdrawals": 0, "active": 0}
    data = {**empty, "organisations": {}, "provinces": {}, "days": {}}
    if checkpoint is not None:
        data.update(checkpoint.counts)
    return data


def stats_document(checkpoint: Checkpoint | None) -> dict:
    """/registry/stats.json: the published figures and the tree they were counted from."""
    data = counts(checkpoint)
    return {
        "size": checkpoint.size if checkpoint else 0,
        "root": base64.b64encode(bytes(checkpoint.root)).decode() if checkpoint else None,
        **data,
    }


def _by_code() -> Prefetch:
    """A declaration's organisations in code order (their keys are random: no order at all)."""
    return Prefetch("organisations", queryset=DeclarationOrganisation.objects.order_by("code"))


def _sealed(size: int) -> QuerySet[Declaration]:
    return (
        Declaration.objects.filter(log_index__lt=size)
        .select_related("withdrawal")
        .prefetch_related(_by_code())
    )


# The public order: newest day first, then the log's order backwards. Within a batch the log
# is shuffled, so this shows no more of when each declaration was made than the day and the
# batch, which the log itself publishes; never the order of the keys, which is random and
# means nothing, nor anything that follows the order the declarations were made in.
PUBLIC_ORDER = ("-declared_on", "-log_index", "-id")


def latest(size: int, limit: int = 20) -> list[Declaration]:
    return list(_sealed(size).order_by(*PUBLIC_ORDER)[:limit])


def search(size: int, query: str) -> QuerySet[Declaration]:
    """Sealed declarations whose alias contains the query, newest day first (PUBLIC_ORDER)."""
    rows = _sealed(size).order_by(*PUBLIC_ORDER)
    query = " ".join(query.split())
    return rows.filter(alias__icontains=query) if query else rows


def withdrawn_in_tree(declaration: Declaration, size: int) -> bool:
    w = getattr(declaration, "withdrawal", None)
    return w is not None and w.log_index is not None and w.log_index < size


def for_display(rows, size: int, language: str, names: dict[str, str]) -> list[Declaration]:
    """Adds what the public list shows: organisation and province names, and whether a
    withdrawal is published at this size."""
    rows = list(rows)
    for d in rows:
        d.org_labels = [names.get(o.code, o.code) for o in d.organisations.all()]
        d.province_name = provinces.name(d.province, language)
        d.withdrawn_published = withdrawn_in_tree(d, size)
    return rows


@dataclass
class Series:
    days: list[tuple[date, int, int]]  # day, declarations that day, cumulative


def day_series(data: dict) -> Series:
    total, rows = 0, []
    for day in sorted(data.get("days", {})):
        n = data["days"][day]
        total += n
        rows.append((date.fromisoformat(day), n, total))
    return Series(rows)


def province_rows(data: dict, language: str) -> list[tuple[str, str, int]]:
    """(code, name, active declarations) by count, largest first."""
    rows = [
        (code, provinces.name(code, language) or code, n)
        for code, n in data.get("provinces", {}).items()
    ]
    return sorted(rows, key=lambda r: (-r[2], r[0]))


@dataclass
class Receipt:
    """What a receipt code finds: the entry, and once sealed its proof of inclusion."""

    declaration: Declaration
    withdrawn: bool  # asked (the withdrawal may still wait for its batch)
    sealed: bool
    leaf: bytes | None = None
    proof: list[bytes] | None = None
    checkpoint: Checkpoint | None = None
    verified: bool = False
    withdrawal_index: int | None = None


def receipt_lookup(code: str) -> Receipt | None:
    if not receipt_normal(code):
        return None
    declaration = (
        Declaration.objects.filter(receipt_hash=receipt_hash(code))
        .select_related("withdrawal")
        .prefetch_related(_by_code())
        .first()
    )
    if declaration is None:
        return None
    withdrawal = getattr(declaration, "withdrawal", None)
    found = Receipt(declaration=declaration, withdrawn=withdrawal is not None, sealed=False)
    checkpoint = log.latest_checkpoint()
    if (
        checkpoint is None
        or declaration.log_index is None
        or declaration.log_index >= checkpoint.size
    ):
        return found
    found.sealed = True
    found.checkpoint = checkpoint
    found.leaf = log.leaf(declaration.log_index)
    found.proof = log.inclusion_proof(declaration.log_index, checkpoint.size)
    if (
        withdrawal is not None
        and withdrawal.log_index is not None
        and withdrawal.log_index < checkpoint.size
    ):
        found.withdrawal_index = withdrawal.log_index
    found.verified = _verifies(found)
    return found


def _verifies(found: Receipt) -> bool:
    """The server's own check of what it shows: signature, checkpoint, inclusion proof."""
    try:
        opened = note.open(found.checkpoint.note, [log_verifier()])
        tree = note.parse_checkpoint(opened.text)
        merkle.verify_inclusion(
            merkle.leaf_hash(found.leaf),
            found.declaration.log_index,
            tree.size,
            found.proof,
            tree.root,
        )
    except (note.NoteError, merkle.ProofError):
        return False
    return True
