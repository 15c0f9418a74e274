"""The public registry: pages anyone can open, the self-service form, receipts.

Simplified Chinese is the default here when the browser asks for none of our languages.
Nothing on these pages needs an account; the form is defended by proof of work, a honeypot
and per-address limits (addresses only ever as keyed hashes).
"""

from __future__ import annotations

import base64
import functools
import json
from datetime import timedelta

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from phonebank.accounts.throttle import client_address
from phonebank.lib.errors import DomainError
from phonebank.lib.svgcsp import svg_response
from phonebank.registry import charts, pow, selectors, services
from phonebank.registry.forms import DeclareForm, ReceiptForm, WithdrawForm
from phonebank.registry.models import Source
from phonebank.tlog.services import log_key_current

LIMITS = {  # per address: (uses, window)
    "declare": (10, timedelta(hours=1)),
    "check": (60, timedelta(hours=1)),
    "withdraw": (10, timedelta(hours=1)),
}


def public(view):
    """Simplified Chinese first: the public's default language when the browser names none of
    ours (a chosen language, by cookie or Accept-Language, still wins)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if not chosen and not _accepts_ours(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
            translation.activate("zh-hans")
            request.LANGUAGE_CODE = "zh-hans"
        return view(request, *args, **kwargs)

    return wrapper


def _accepts_ours(header: str) -> bool:
    from django.utils.translation.trans_real import parse_accept_lang_header

    for lang, _q in parse_accept_lang_header(header):
        if lang == "*":
            continue
        try:
            translation.get_supported_language_variant(lang)
        except LookupError:
            continue
        return True
    return False


def _language(request) -> str:
    return getattr(request, "LANGUAGE_CODE", None) or translation.get_language() or "en"


def _limited(request, purpose: str) -> bool:
    uses, window = LIMITS[purpose]
    return not services.throttle_hit(purpose, client_address(request), limit=uses, window=window)


def _common(request, checkpoint) -> dict:
    language = _language(request)
    return {
        "checkpoint": checkpoint,
        "counts": selectors.counts(checkpoint),
        "org_names": selectors.organisation_names(language),
        "language": language,
    }


@require_GET
@public
def index(request):
    checkpoint = selectors.published()
    context = _common(request, checkpoint)
    series = selectors.day_series(context["counts"])
    context |= {
        "latest": selectors.for_display(
            selectors.latest(checkpoint.size) if checkpoint else [],
            checkpoint.size if checkpoint else 0,
            context["language"],
            context["org_names"],
        ),
        "series": series.days[-30:],
        "organisation_rows": [
            (name, context["counts"]["organisations"].get(code, 0))
            for code, name in context["org_names"].items()
            if code in context["counts"]["organisations"] or code in ("party", "league", "pioneers")
        ],
        "batch_minutes": settings.PHONEBANK_LOG_BATCH_SECONDS // 60,
    }
    return render(request, "registry/index.html", context)


@require_GET
@public
def declarations(request):
    checkpoint = selectors.published()
    query = request.GET.get("q", "")[:64]
    rows = selectors.search(checkpoint.size, query) if checkpoint else []
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    context = _common(request, checkpoint) | {"page": page, "query": query}
    page.object_list = selectors.for_display(
        page.object_list,
        checkpoint.size if checkpoint else 0,
        context["language"],
        context["org_names"],
    )
    return render(request, "registry/declarations.html", context)


@require_GET
@public
def provinces_page(request):
    checkpoint = selectors.published()
    context = _common(request, checkpoint)
    context["rows"] = selectors.province_rows(context["counts"], context["language"])
    return render(request, "registry/provinces.html", context)


@require_GET
def stats_json(request):
    response = JsonResponse(selectors.stats_document(selectors.published()))
    response["Cache-Control"] = "no-cache"
    response["Access-Control-Allow-Origin"] = "*"  # public figures, for anyone's auditor
    return response


@require_GET
@public
def chart(request, name: str):
    checkpoint = selectors.published()
    data = selectors.counts(checkpoint)
    if name not in ("days", "provinces"):
        raise Http404
    if name == "days":
        svg = charts.days_svg(
            selectors.day_series(data).days,
            per_day=_("Declarations per day"),
            cumulative=_("Cumulative"),
            title=_("Declarations per day and cumulative"),
        )
    else:
        rows = selectors.province_rows(data, _language(request))
        svg = charts.provinces_svg(
            rows, title=_("Declarations by province"), label=_("Declarations")
        )
    response = svg_response(svg)  # its own CSP: the style block by hash, no script
    response["Cache-Control"] = "no-cache"
    response["Vary"] = "Cookie, Accept-Language"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
@public
def declare(request):
    language = _language(request)
    form = DeclareForm(request.POST or None, language=language)
    error = None
    if request.method == "POST" and form.is_valid():
        error = _form_defences(request, form)
        if error is None:
            try:
                declaration, code = services.declaration_record(
                    alias=form.cleaned_data["alias"],
                    organisations=form.cleaned_data["organisations"],
                    allowed={c for c, _n in form.fields["organisations"].choices},
                    source=Source.WEB,
                    consent=form.cleaned_data["consent"] is True,
                    province=form.cleaned_data["province"],
                )
            except DomainError as exc:
                error = str(exc)
            else:
                context = {"declaration": declaration, "code": code} | _common(request, None)
                context["batch_minutes"] = settings.PHONEBANK_LOG_BATCH_SECONDS // 60
                return render(request, "registry/receipt.html", context)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "error": error, "challenge_json": json.dumps(pow.challenge_new())}
    return render(request, "registry/declare.html", context, status=status)


def _form_defences(request, form) -> str | None:
    """The spam defences, in order of cost; a message for the person, or None to go on."""
    if form.cleaned_data.get("website"):
        return _("The form could not be sent. Reload the page and try again.")
    if _limited(request, "declare"):
        return _("Too many declarations from this address in the last hour. Try again later.")
    solved = pow.solution_check(form.cleaned_data.get("altcha") or "")
    if solved is None or not services.challenge_spend(*solved):
        return _(
            "The anti-spam check did not finish. It needs JavaScript and takes a few seconds; "
            "wait for it, then send the form again."
        )
    return None


@never_cache
@require_http_methods(["GET", "POST"])
@public
def check(request):
    form = ReceiptForm(request.POST or None)
    found = error = None
    if request.method == "POST" and form.is_valid():
        if _limited(request, "check"):
            error = _("Too many look-ups from this address in the last hour. Try again later.")
        else:
            found = selectors.receipt_lookup(form.cleaned_data["code"])
            if found is None:
                error = _("No declaration has this receipt code. Check it and try again.")
    context = {"form": form, "found": found, "error": error} | _common(request, None)
    if found is not None:
        names = context["org_names"]
        context["org_labels"] = [
            names.get(o.code, o.code) for o in found.declaration.organisations.all()
        ]
    if found is not None and found.sealed:
        context["proof_json"] = json.dumps(
            {
                "leaf": base64.b64encode(found.leaf).decode(),
                "index": found.declaration.log_index,
                "proof": [base64.b64encode(h).decode() for h in found.proof],
                "checkpoint": found.checkpoint.note,
                "key": log_key_current(),
            }
        )
        context["leaf_text"] = found.leaf.decode()
        context["proof_hex"] = [h.hex() for h in found.proof]
    status = 400 if request.method == "POST" and found is None else 200
    return render(request, "registry/check.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@public
def withdraw(request):
    form = WithdrawForm(request.POST or None)
    error = withdrawal = None
    if request.method == "POST" and form.is_valid():
        if _limited(request, "withdraw"):
            error = _("Too many attempts from this address in the last hour. Try again later.")
        else:
            try:
                withdrawal = services.declaration_withdraw(code=form.cleaned_data["code"])
            except DomainError as exc:
                error = str(exc)
    context = {"form": form, "error": error, "withdrawal": withdrawal}
    context["batch_minutes"] = settings.PHONEBANK_LOG_BATCH_SECONDS // 60
    status = 400 if request.method == "POST" and withdrawal is None else 200
    return render(request, "registry/withdraw.html", context, status=status)
