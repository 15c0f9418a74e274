"""The log's storage: C2SP tiles and entry bundles, and the signed checkpoints.

A row per 256 hashes (`Tile`) and per 256 entries (`Bundle`) keeps a tree of hundreds of
millions of leaves in a few million small rows, and any proof reads a handful of them
(see tiles.py). Rows only grow: a partial tile or bundle gains hashes or entries at its end
and is never otherwise rewritten, so every tile a checkpoint needs stays servable.
"""

from django.db import models


class Tile(models.Model):
    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hashes = models.BinaryField()  # 32 bytes per hash, at most 256 of them

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="tile_unique")]

    def __str__(self) -> str:
        return f"tile {self.level}/{self.index}"


class Bundle(models.Model):
    """Up to 256 consecutive leaves, each prefixed with its uint16 length."""

    index = models.BigIntegerField(primary_key=True)
    entries = models.BinaryField()
    count = models.PositiveSmallIntegerField()

    def __str__(self) -> str:
        return f"bundle {self.index}"


class Checkpoint(models.Model):
    """A signed tree head; the latest one is what the log publishes."""

    size = models.BigIntegerField(unique=True)
    root = models.BinaryField()
    note = models.TextField()  # the signed note exactly as served
    counts = models.JSONField(default=dict)  # the published figures at this size
    created_at = models.DateTimeField()

    class Meta:
        get_latest_by = "size"

    def __str__(self) -> str:
        return f"checkpoint {self.size}"


class LogKey(models.Model):
    """A verifier key the log has signed checkpoints with, oldest first: the last is in force.

    Only public keys: the signing key itself never enters the database. The first key has no
    announcement; each later one was announced by the key record at leaf `index`, signed by
    the key before it, and first signed `checkpoint` (together with the key before it).
    """

    vkey = models.TextField(unique=True)
    index = models.BigIntegerField(null=True, blank=True, unique=True)
    checkpoint = models.OneToOneField(
        Checkpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.vkey.rsplit("+", 1)[0]
