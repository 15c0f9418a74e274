from django.contrib import messages
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from phonebank.accounts.permissions import (
    admin_required,
    campaign_for_staff,
    import_for_staff,
    staff_required,
)
from phonebank.audit.services import log_action
from phonebank.calling.models import TargetStatus
from phonebank.contacts import selectors, services
from phonebank.contacts.forms import DncFileForm, DncForm, ImportForm
from phonebank.contacts.models import DoNotCall, ImportKind
from phonebank.lib.errors import DomainError

PAGE_SIZE = 50


@staff_required
def contact_list(request, slug):
    campaign = campaign_for_staff(request.user, slug)
    if request.method == "POST" and request.POST.get("reserve") in ("trusted", "everyone"):
        from phonebank.calling.services import targets_reserve

        for_trusted = request.POST["reserve"] == "trusted"
        province = request.POST.get("province", "")[:2]
        status = request.POST.get("status", "")[:16]
        n = targets_reserve(
            campaign=campaign,
            actor=request.user,
            for_trusted=for_trusted,
            province=province,
            status=status,
        )
        if for_trusted:
            messages.success(
                request, _("%(n)d contacts are now for trusted callers only.") % {"n": n}
            )
        else:
            messages.success(
                request, _("%(n)d contacts are open to every caller again.") % {"n": n}
            )
        return redirect(
            f"{reverse('contacts:list', args=[slug])}?province={province}&status={status}"
        )
    province = request.GET.get("province", "")[:2]
    status = request.GET.get("status", "")[:16]
    page = Paginator(
        selectors.target_list(campaign, province=province, status=status), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "contacts/list.html",
        {
            "campaign": campaign,
            "page": page,
            "province": province,
            "status": status,
            "statuses": TargetStatus.choices,
            "provinces": selectors.province_counts(campaign, get_language()),
            "counts": selectors.target_counts(campaign),
            "tab": "contacts",
        },
    )


@staff_required
def import_list(request, slug):
    campaign = campaign_for_staff(request.user, slug)
    form = ImportForm(initial={"default_region": campaign.default_region})
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                job = services.import_upload(
                    campaign=campaign,
                    actor=request.user,
                    upload=form.cleaned_data["file"],
                    mapping=form.cleaned_data["mapping"],
                    default_region=form.cleaned_data["default_region"],
                )
            except DomainError as exc:
                form.add_error("file", str(exc))
            else:
                return redirect("contacts:import", pk=job.pk)
    return render(
        request,
        "contacts/imports.html",
        {
            "campaign": campaign,
            "form": form,
            "jobs": selectors.import_list(campaign=campaign)[:50],
            "tab": "imports",
        },
    )


@staff_required
def import_detail(request, pk):
    job = import_for_staff(request.user, pk)
    template = "contacts/_import_progress.html" if request.htmx else "contacts/import.html"
    return render(request, template, {"job": job, "campaign": job.campaign, "tab": "imports"})


@staff_required
def import_rejects(request, pk):
    job = import_for_staff(request.user, pk)
    log_action(job, f"{job.kind}.import.rejects_downloaded", actor=request.user, rows=job.rejected)
    response = StreamingHttpResponse(selectors.rejects_csv(job), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="rejects-{job.pk}.csv"'
    return response


@staff_required
def dnc(request):
    add_form, file_form = DncForm(prefix="add"), DncFileForm(prefix="file")
    found = None
    checked = False
    if request.method == "POST" and "add-phone" in request.POST:
        add_form = DncForm(request.POST, prefix="add")
        if add_form.is_valid():
            try:
                _entry, created = services.dnc_add(
                    phone=add_form.cleaned_data["phone"],
                    actor=request.user,
                    reason=add_form.cleaned_data["reason"],
                )
            except DomainError as exc:
                add_form.add_error("phone", str(exc))
            else:
                messages.success(
                    request,
                    _("The number is on the do-not-call list.")
                    if created
                    else _("The number was already on the do-not-call list."),
                )
                return redirect("contacts:dnc")
    elif request.method == "POST" and "check-phone" in request.POST:
        # A POST, so the number never lands in a URL, a proxy log or the browser history.
        checked = True
        try:
            found = services.dnc_find(request.POST["check-phone"][:64])
        except DomainError as exc:
            messages.error(request, str(exc))
            checked = False
    elif request.method == "POST":
        file_form = DncFileForm(request.POST, request.FILES, prefix="file")
        if file_form.is_valid():
            try:
                job = services.import_upload(
                    campaign=None,
                    actor=request.user,
                    upload=file_form.cleaned_data["file"],
                    kind=ImportKind.DNC,
                )
            except DomainError as exc:
                file_form.add_error("file", str(exc))
            else:
                return redirect("contacts:import", pk=job.pk)
    return render(
        request,
        "contacts/dnc.html",
        {
            "add_form": add_form,
            "file_form": file_form,
            "found": found,
            "checked": checked,
            "count": selectors.dnc_count(),
            "recent": selectors.dnc_recent(),
            "jobs": selectors.import_list(kind=ImportKind.DNC)[:10],
        },
    )


@require_POST
@admin_required
def dnc_remove(request, pk):
    entry = get_object_or_404(DoNotCall, pk=pk)
    services.dnc_remove(entry=entry, actor=request.user, reason=request.POST.get("reason", ""))
    messages.success(request, _("The number is no longer on the do-not-call list."))
    return redirect("contacts:dnc")
