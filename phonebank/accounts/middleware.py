from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

SECOND_FACTOR_SESSION_KEY = "phonebank_2fa"


class SessionTimeoutMiddleware:
    """Signs people out after PHONEBANK_SESSION_IDLE_MINUTES without a request of their own
    (default 30) and PHONEBANK_SESSION_MAX_HOURS after they signed in (default 12). The
    workspace's automatic lease renewal is not activity: an unattended screen times out."""

    STARTED, SEEN = "phonebank_started", "phonebank_seen"
    PASSIVE = ("/renew",)  # requests the page makes by itself

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        import time

        from django.contrib.auth import logout

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            session = request.session
            started = session.setdefault(self.STARTED, now)
            seen = session.get(self.SEEN, started)
            idle = settings.PHONEBANK_SESSION_IDLE_MINUTES * 60
            if now - started > settings.PHONEBANK_SESSION_MAX_HOURS * 3600 or now - seen > idle:
                logout(request)
                if request.headers.get("HX-Request"):
                    from django.http import HttpResponse

                    response = HttpResponse(status=401)
                    response["HX-Redirect"] = reverse("accounts:login")
                    return response
                return redirect(
                    f"{reverse('accounts:login')}?{urlencode({'next': request.get_full_path()})}"
                )
            if now - seen >= 60 and not request.path.endswith(self.PASSIVE):
                session[self.SEEN] = now  # at most one session write a minute
        return self.get_response(request)


class PolicyMiddleware:
    """Enforces accounts.policy.POLICY on every resolved view, the Django admin included:
    anonymous people are sent to sign in, signed-in people without the role get 403, and a
    view the table does not know is refused to everyone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        import logging

        from django.contrib.auth.views import redirect_to_login
        from django.core.exceptions import PermissionDenied

        from phonebank.accounts.policy import allows, rule_for

        match = request.resolver_match
        name = match.view_name if match is not None else None
        rule = rule_for(name)
        if rule is None:
            logging.getLogger("phonebank.policy").error("no policy for view %s", name)
        verdict = allows(rule, request.user)
        if verdict is None:
            return redirect_to_login(request.get_full_path())
        if verdict is False:
            raise PermissionDenied
        return None


class SecondFactorMiddleware:
    """Admins and coordinators pass a second factor (TOTP or a backup code) once per
    session before anything else, the Django admin included; those without one set it up
    first. Callers and the token API are not affected."""

    OPEN = ("/accounts/2fa/", "/accounts/logout/", "/i18n/", "/static/", "/healthz", "/api/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            settings.PHONEBANK_REQUIRE_2FA
            and user is not None
            and user.is_authenticated
            and user.is_staff_role
            and request.session.get(SECOND_FACTOR_SESSION_KEY) != user.pk
            and not request.path.startswith(self.OPEN)
        ):
            from phonebank.accounts import twofactor

            name = "accounts:2fa_verify" if twofactor.enabled(user) else "accounts:2fa_setup"
            return redirect(f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


class NoStoreForSignedInMiddleware:
    """Pages for signed-in people must not stay in a shared or back-button cache."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            response["Cache-Control"] = "no-store, private"
        return response


class UserTimezoneMiddleware:
    """Show times in the signed-in person's own time zone (their profile), else UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        import zoneinfo

        from django.utils import timezone

        user = getattr(request, "user", None)
        zone = getattr(user, "timezone", "") if user is not None and user.is_authenticated else ""
        try:
            timezone.activate(zoneinfo.ZoneInfo(zone)) if zone else timezone.deactivate()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.deactivate()
        return self.get_response(request)
