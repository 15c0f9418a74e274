"""Walking every URL pattern of the site with concrete paths: the role × URL matrix, the
header tests and the caller's scraping walk share it."""

from __future__ import annotations

import re

from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver

from phonebank.accounts.services import invitation_create, token_create
from phonebank.audit.models import LogEntry
from phonebank.calling.models import Target
from phonebank.contacts.models import Contact, DoNotCall, ImportJob
from phonebank.lib.fields import keyring


def patterns(url_patterns=None, prefix="", namespaces=()):
    """(route, view name as ResolverMatch builds it, pattern) for every URL pattern."""
    for p in get_resolver().url_patterns if url_patterns is None else url_patterns:
        if isinstance(p, URLResolver):
            ns = (*namespaces, p.namespace) if p.namespace else namespaces
            yield from patterns(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            func = p.lookup_str
            yield prefix + str(p.pattern), ":".join([*namespaces, p.name or func]), p


def world_make(*, campaign, coordinator, caller, admin, other_campaign_coordinator) -> dict:
    """One of each object a URL can name, and the people who ask for them."""
    e164 = "+8613900000001"
    contact = Contact.objects.create(
        blind_index=keyring().blind_index(e164),
        phone=e164,
        name="n",
        country="CN",
        timezone="Asia/Shanghai",
    )
    target = Target.objects.create(campaign=campaign, contact=contact)
    job = ImportJob.objects.create(
        campaign=campaign, created_by=coordinator, filename="x.csv", sha256="0" * 64
    )
    dnc = DoNotCall.objects.create(
        blind_index=keyring().blind_index("+8613900000002"), reason="test"
    )
    _inv, raw = invitation_create(campaign=campaign, actor=coordinator)
    token, _raw = token_create(user=caller, actor=None)
    return {
        "slug": campaign.slug,
        "pk": target.pk,
        "job": job.pk,
        "dnc": dnc.pk,
        "token": raw,
        "admin_objects": {  # the Django admin's <object_id>, per model
            "accounts/user/": caller.pk,
            "accounts/apitoken/": token.pk,
            "audit/logentry/": LogEntry.objects.latest("pk").pk,
            "campaigns/campaign/": campaign.pk,
            "auth/group/": Group.objects.create(name="g").pk,
        },
        "campaign_type": ContentType.objects.get_for_model(campaign).pk,
        "campaign_pk": campaign.pk,
        "people": {
            "anonymous": None,
            "caller": caller,
            "coordinator": coordinator,
            "other_coordinator": other_campaign_coordinator,
            "admin": admin,
        },
    }


def _admin_path(route: str, world) -> str:
    path = route
    for where, pk in world["admin_objects"].items():
        if route.startswith(f"admin/{where}"):
            path = path.replace("<path:object_id>", str(pk)).replace("<id>", str(pk))
    path = path.replace(
        "r/<path:content_type_id>/<path:object_id>",
        f"r/{world['campaign_type']}/{world['campaign_pk']}",
    )
    path = path.replace("<path:object_id>", "999999")  # axes records: none exist
    # Regular-expression patterns: the app index, with the first app; the catch-all.
    path = re.sub(r"\^\(\?P<app_label>(\w+)[^)]*\)/\$", r"\1/", path)
    path = path.replace("(?P<url>.*)$", "no-such-page/")
    if route == "admin/autocomplete/":
        path += "?app_label=accounts&model_name=membership&field_name=campaign"
    return "/" + path


def path_for(route: str, world) -> str:
    """A concrete path for a route, naming the world's objects."""
    if route.startswith("admin/"):
        return _admin_path(route, world)
    values = {
        "<slug:slug>": world["slug"],
        "<slug>": world["slug"],
        "<int:pk>": str(world["pk"]),
        "<pk>": str(world["pk"]),
        "<str:token>": world["token"],
        "<path:path>": "0/000.p/1",
        "<slug:name>": "days",
        "<caller_id>": "1",
        "<action>": "approve",
        "<invitation_id>": "1",
    }
    path = route
    for key, value in values.items():
        path = path.replace(key, value)
    if "imports/" in route and "<int:pk>" in route:
        path = route.replace("<int:pk>", str(world["job"]))
    if "do-not-call/<int:pk>" in route:
        path = route.replace("<int:pk>", str(world["dnc"]))
    path = path.replace("^", "").replace("$", "")
    return "/" + path


_ACTIONS = {
    "add": lambda ma, request: ma.has_add_permission(request),
    "delete": lambda ma, request: ma.has_delete_permission(request),
    "change": lambda ma, request: ma.has_view_or_change_permission(request),
    "history": lambda ma, request: ma.has_view_or_change_permission(request),
    "changelist": lambda ma, request: ma.has_view_or_change_permission(request),
}


def admin_refuses(name: str, user) -> bool:
    """Whether the Django admin itself refuses this user this model page (403): a read-only
    model admin (the audit log) says no to adding and deleting, even to admins."""
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}_"
        if name.startswith(prefix) and name[len(prefix) :] in _ACTIONS:
            request = RequestFactory().get("/")
            request.user = user
            return not _ACTIONS[name[len(prefix) :]](model_admin, request)
    return False
