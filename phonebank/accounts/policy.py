"""Who may reach which view: one table for the whole site, enforced by PolicyMiddleware
before any view runs. A view missing from the table is refused to everyone (fail closed),
and a test walks every URL pattern to keep the table complete.

The table says who may *reach* a view; per-record checks stay in the views and services (a
caller reaches only the contact they hold, a coordinator only their campaigns, both
answering 404 for anything else).
"""

from __future__ import annotations

PUBLIC = "public"  # anyone, signed in or not
SIGNED_IN = "signed_in"  # any signed-in user (per-record checks inside)
STAFF = "staff"  # coordinators and admins
ADMIN = "admin"  # admins
API = "api"  # the JSON API: token authentication and role checks in each endpoint

POLICY: dict[str, str] = {
    "home": SIGNED_IN,
    "healthz": PUBLIC,
    "set_language": PUBLIC,
    "join": PUBLIC,
    "accounts:login": PUBLIC,
    "accounts:logout": PUBLIC,
    "accounts:profile": SIGNED_IN,
    "accounts:password": SIGNED_IN,
    "accounts:2fa_verify": SIGNED_IN,
    "accounts:2fa_setup": STAFF,
    "accounts:2fa_codes": STAFF,
    "campaigns:*": STAFF,
    "calling:*": SIGNED_IN,
    "dashboards:overall": ADMIN,
    "dashboards:overall_chart": ADMIN,
    "dashboards:exports": STAFF,  # per campaign inside; personal data for admins only
    "dashboards:export_download": STAFF,  # only whoever asked for the export
    "dashboards:*": STAFF,
    "contacts:list": STAFF,
    "contacts:imports": STAFF,
    "contacts:import": STAFF,
    "contacts:import_rejects": STAFF,
    "contacts:dnc": STAFF,
    "contacts:dnc_remove": ADMIN,
    "api:*": API,
    "registry:*": PUBLIC,
    "log:*": PUBLIC,
    "admin:*": ADMIN,
}


def rule_for(view_name: str | None) -> str | None:
    """The rule for a resolved view name ("ns:name"), or None when the table has none."""
    if not view_name:
        return None
    if view_name in POLICY:
        return POLICY[view_name]
    namespace = view_name.rpartition(":")[0]
    while namespace:
        if f"{namespace}:*" in POLICY:
            return POLICY[f"{namespace}:*"]
        namespace = namespace.rpartition(":")[0]
    return None


def allows(rule: str | None, user) -> bool | None:
    """True, False (signed in but not allowed: 403) or None (must sign in first)."""
    if rule in (PUBLIC, API):
        return True
    if rule is None:
        return False
    if not user.is_authenticated:
        return None
    if rule == SIGNED_IN:
        return True
    if rule == STAFF:
        return user.role in ("admin", "coordinator")
    if rule == ADMIN:
        return user.role == "admin"
    return False
