"""The log's public HTTP interface (SPEC section 3) and its C2SP tiles. Read-only."""

from __future__ import annotations

import base64

from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from phonebank.tlog import selectors, services, tiles

_NO_CACHE = "no-cache"
_IMMUTABLE = "public, max-age=31536000, immutable"


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _ints(request, *names: str) -> list[int]:
    values = []
    for name in names:
        raw = request.GET.get(name, "")
        if not raw.isdigit() or len(raw) > 20:
            raise ValueError(f"{name} must be a non-negative integer")
        values.append(int(raw))
    return values


def _hashes(hashes: list[bytes]) -> JsonResponse:
    response = JsonResponse({"hashes": [base64.b64encode(h).decode() for h in hashes]})
    response["Cache-Control"] = _IMMUTABLE  # a proof between fixed sizes never changes
    return response


@require_GET
def checkpoint(request):
    latest = selectors.latest_checkpoint()
    if latest is None:
        return HttpResponse("no checkpoint yet\n", status=404, content_type="text/plain")
    response = HttpResponse(latest.note, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = _NO_CACHE
    return response


@require_GET
def key(request):
    """The verifier key in force: the one the latest checkpoint is signed with."""
    response = HttpResponse(
        services.log_key_current() + "\n", content_type="text/plain; charset=utf-8"
    )
    response["Cache-Control"] = _NO_CACHE
    return response


@require_GET
def keys(request):
    """Every key the log has signed with, oldest first, and for each after the first the
    leaf announcing it and the checkpoint that first includes that leaf (signed by the key
    before it and by it): what an auditor who trusts an older key follows to the current."""
    rows = selectors.log_keys()
    listed = [
        {
            "key": row.vkey,
            "index": row.index,
            "size": row.checkpoint.size if row.checkpoint else None,
            "checkpoint": row.checkpoint.note if row.checkpoint else None,
        }
        for row in rows
    ] or [{"key": services.log_key_current(), "index": None, "size": None, "checkpoint": None}]
    response = JsonResponse({"keys": listed}, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = _NO_CACHE
    return response


@require_GET
def leaves(request):
    try:
        start, end = _ints(request, "start", "end")
        data = selectors.leaves(start, end)
    except ValueError as exc:
        return _error(str(exc))
    return JsonResponse({"leaves": [base64.b64encode(d).decode() for d in data]})


@require_GET
def inclusion(request):
    try:
        index, size = _ints(request, "index", "size")
        return _hashes(selectors.inclusion_proof(index, size))
    except ValueError as exc:
        return _error(str(exc))


@require_GET
def consistency(request):
    try:
        first, second = _ints(request, "first", "second")
        return _hashes(selectors.consistency_proof(first, second))
    except ValueError as exc:
        return _error(str(exc))


@require_GET
def tile(request, path: str):
    """C2SP tlog-tiles: /log/tile/L/N[.p/W] and /log/tile/entries/N[.p/W]."""
    try:
        level, index, width = tiles.parse_tile_path(path)
    except ValueError:
        return HttpResponse("not a tile\n", status=404, content_type="text/plain")
    data = selectors.bundle(index, width) if level is None else selectors.tile(level, index, width)
    if data is None:
        return HttpResponse("no such tile\n", status=404, content_type="text/plain")
    response = HttpResponse(data, content_type="application/octet-stream")
    response["Cache-Control"] = _IMMUTABLE
    return response
