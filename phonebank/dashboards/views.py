"""Coordinator dashboards: a campaign's calls, queue and callers; objection analytics; the
admins' overview. Each page refreshes itself with htmx while open (the same URL answers
with its fragment), and each chart is an SVG image with its figures in a table beside it."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from phonebank.accounts.permissions import admin_required, campaign_for_staff, staff_required
from phonebank.calling.models import Outcome
from phonebank.campaigns.models import Campaign
from phonebank.dashboards import charts, exports, selectors
from phonebank.dashboards.forms import ExportForm
from phonebank.dashboards.models import ExportStatus
from phonebank.lib import provinces
from phonebank.lib.errors import DomainError
from phonebank.lib.svgcsp import svg_response

REFRESH_SECONDS = 30


def _language(request) -> str:
    return getattr(request, "LANGUAGE_CODE", None) or translation.get_language() or "en"


def _period(request) -> tuple[int, str | None]:
    """The number of days to show (?days=), and a message when the value was not one of
    ours."""
    raw = request.GET.get("days", "")
    if not raw:
        return 30, None
    if raw.isascii() and raw.isdigit() and int(raw) in selectors.PERIODS:
        return int(raw), None
    return 30, _("Unknown period %(value)s: showing the last 30 days.") % {"value": raw[:20]}


def _funnel_labels() -> dict[str, str]:
    return {
        "dialled": _("Dialled"),
        "reached": _("Reached"),
        "listened": _("Listened"),
        "declared": _("Declared"),
    }


def _province_name(code: str, language: str) -> str:
    return provinces.name(code, language) if code else _("Unknown province")


@require_GET
@staff_required
def campaign(request, slug):
    """The campaign dashboard (its fragment for htmx refreshes)."""
    found = campaign_for_staff(request.user, slug)
    period, problem = _period(request)
    data = selectors.campaign_dashboard(found, timezone.now(), period=period)
    language = _language(request)
    context = {
        "campaign": found,
        "tab": "dashboard",
        "d": data,
        "period": period,
        "periods": selectors.PERIODS,
        "problem": problem,
        "funnel_labels": _funnel_labels(),
        "outcomes": [(label, data.outcomes.get(code, 0)) for code, label in Outcome.choices],
        "provinces": [(_province_name(r.key, language), r) for r in data.provinces],
        "refresh": REFRESH_SECONDS,
        "stamp": int(timezone.now().timestamp()) // REFRESH_SECONDS,
    }
    template = "dashboards/_campaign.html" if request.htmx else "dashboards/campaign.html"
    return render(request, template, context)


@require_GET
@staff_required
def objections(request, slug):
    found = campaign_for_staff(request.user, slug)
    data = selectors.objection_analytics(found, timezone.now())
    return render(
        request,
        "dashboards/objections.html",
        {
            "campaign": found,
            "tab": "objections",
            "d": data,
            "columns": [
                (Outcome.DECLARED, _("Declared")),
                (Outcome.LISTENED, _("Listened")),
                (Outcome.CALLBACK, _("Callback")),
                (Outcome.REFUSED, _("Refused")),
                (Outcome.HUNG_UP, _("Hung up")),
            ],
            "stamp": int(timezone.now().timestamp()) // REFRESH_SECONDS,
        },
    )


@require_GET
@admin_required
def overall(request):
    """Every campaign side by side, and the registry's totals (admins)."""
    period, problem = _period(request)
    data = selectors.overview(list(Campaign.objects.all()), timezone.now(), period=period)
    template = "dashboards/_overall.html" if request.htmx else "dashboards/overall.html"
    return render(
        request,
        template,
        {
            "d": data,
            "period": period,
            "periods": selectors.PERIODS,
            "problem": problem,
            "refresh": REFRESH_SECONDS,
            "stamp": int(timezone.now().timestamp()) // REFRESH_SECONDS,
        },
    )


def _svg(svg: str) -> HttpResponse:
    response = svg_response(svg)  # its own CSP: the style block by hash, no script
    response["Cache-Control"] = "no-store"  # a campaign's figures: not kept by any cache
    response["Vary"] = "Cookie, Accept-Language"
    return response


CAMPAIGN_CHARTS = ("days", "cumulative", "funnel", "provinces", "hours", "objections", "weeks")


@require_GET
@staff_required
def chart(request, slug, name):
    if name not in CAMPAIGN_CHARTS:
        raise Http404
    found = campaign_for_staff(request.user, slug)
    now = timezone.now()
    ids = [found.pk]
    if name in ("days", "cumulative"):
        period, _problem = _period(request)
        today = selectors.today_for(found, now)
        rows = selectors.day_series(ids, today - timedelta(days=period - 1), today)
        return _svg(_days_chart(name, rows))
    if name == "funnel":
        funnel = selectors.funnel_of(selectors.outcome_totals(ids))
        return _svg(
            charts.funnel_svg(funnel, labels=_funnel_labels(), title=_("From dialled to declared"))
        )
    if name == "provinces":
        rows = selectors.province_rows(ids)[:34]
        language = _language(request)
        return _svg(
            charts.groups_svg(
                rows,
                names=[_province_name(r.key, language) for r in rows],
                calls=_("Calls"),
                declared=_("Declarations"),
                title=_("Calls and declarations by province"),
            )
        )
    if name == "hours":
        return _svg(
            charts.hours_svg(
                selectors.hour_rows(ids),
                calls=_("Calls"),
                rate=_("Reached (%)"),
                title=_("Calls by hour of the contacts' day"),
            )
        )
    data = selectors.objection_analytics(found, now)
    if name == "objections":
        return _svg(
            charts.objections_svg(
                data, title=_("How often each objection came up"), label=_("Times")
            )
        )
    return _svg(charts.objection_weeks_svg(data, title=_("Objections heard per week")))


def _days_chart(name: str, rows) -> str:
    if name == "days":
        return charts.days_svg(
            rows,
            calls=_("Calls"),
            reached=_("Reached"),
            declared=_("Declared"),
            title=_("Calls per day"),
        )
    return charts.cumulative_svg(
        rows,
        per_day=_("Declarations per day"),
        cumulative=_("Cumulative"),
        title=_("Declarations per day and cumulative"),
    )


@require_GET
@admin_required
def overall_chart(request, name):
    if name not in ("days", "cumulative"):
        raise Http404
    period, _problem = _period(request)
    campaigns = list(Campaign.objects.all())
    today = selectors.overview_today(campaigns, timezone.now())
    rows = selectors.day_series(
        [c.pk for c in campaigns], today - timedelta(days=period - 1), today
    )
    return _svg(_days_chart(name, rows))


@require_http_methods(["GET", "POST"])
@staff_required
def export_list(request, slug):
    """A campaign's exports: the form to ask for one, and the recent ones with their
    progress (the fragment, for htmx, while one is running)."""
    found = campaign_for_staff(request.user, slug)
    admin = request.user.is_admin
    form = ExportForm(admin=admin)
    if request.method == "POST":
        form = ExportForm(request.POST, admin=admin)
        if form.is_valid():
            try:
                exports.export_request(
                    campaign=found,
                    actor=request.user,
                    kind=form.cleaned_data["kind"],
                    format=form.cleaned_data["format"],
                    personal=form.cleaned_data.get("personal", False),
                    language=_language(request),
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Export queued. It appears below when it is ready."))
                return redirect("dashboards:exports", slug=found.slug)
    jobs = selectors.export_list(found)
    context = {
        "campaign": found,
        "tab": "exports",
        "form": form,
        "jobs": jobs,
        "active": any(j.is_active for j in jobs),
        "now": timezone.now(),
        "hours": int(exports.EXPIRE_AFTER.total_seconds() // 3600),
    }
    template = "dashboards/_exports.html" if request.htmx else "dashboards/exports.html"
    return render(request, template, context)


@require_GET
@staff_required
def export_download(request, slug, pk):
    """A finished export, to whoever asked for it, until it expires (404 otherwise)."""
    found = campaign_for_staff(request.user, slug)
    job = selectors.export_for_requester(found, request.user, pk)
    if (
        job.status != ExportStatus.FINISHED
        or not job.expires_at
        or job.expires_at <= timezone.now()
    ):
        raise Http404
    response = FileResponse(
        exports.export_open(job=job, actor=request.user),
        as_attachment=True,
        filename=exports.file_name(job),
        content_type=exports.CONTENT_TYPES[job.format],
    )
    response["Content-Length"] = str(job.size)
    response["Cache-Control"] = "no-store"
    return response
