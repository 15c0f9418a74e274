from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

SECOND_FACTOR_SESSION_KEY = "phonebank_2fa"


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
