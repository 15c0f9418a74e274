from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from phonebank.accounts import services
from phonebank.accounts.forms import (
    BoundedPasswordChangeForm,
    CodeForm,
    ProfileForm,
    SignInForm,
    SignUpForm,
)
from phonebank.accounts.middleware import SECOND_FACTOR_SESSION_KEY
from phonebank.accounts.models import Role
from phonebank.lib.errors import DomainError


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


@login_required
def home(request):
    """Staff land on their campaigns; callers on the campaigns they call for."""
    if request.user.role in (Role.ADMIN, Role.COORDINATOR):
        return redirect("campaigns:list")
    return redirect("calling:home")


@never_cache
def healthz(request):
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
@require_http_methods(["GET", "POST"])
def join(request, token: str):
    """Sign up through an invitation link: a new caller, pending a coordinator's approval."""
    invitation = services.invitation_find(token)
    state = invitation.state(timezone.now()) if invitation is not None else "unknown"
    if state != "usable":
        status = 404 if state == "unknown" else 410
        return render(request, "accounts/invitation_invalid.html", {"state": state}, status=status)
    language = translation.get_language()
    form = SignUpForm(request.POST or None, initial={"language": language, "timezone": "UTC"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.invitation_accept(
                raw=token,
                username=data["username"],
                password=data["password1"],
                language=data["language"],
                timezone_name=data["timezone"],
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            translation.activate(user.language)
            response = redirect("calling:home")
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                user.language,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
            messages.success(
                request,
                _("Welcome! Your account waits for a coordinator's approval; meanwhile, practise."),
            )
            return response
    context = {"form": form, "campaign": invitation.campaign}
    return render(request, "accounts/join.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    """The user's own settings and, for callers, their own calls (no contact's details)."""
    from phonebank.calling.selectors import own_history

    user = request.user
    form = ProfileForm(
        request.POST or None,
        initial={
            "language": user.language or translation.get_language(),
            "timezone": user.timezone or "UTC",
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(
                user=user,
                language=form.cleaned_data["language"],
                timezone_name=form.cleaned_data["timezone"],
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Saved."))
            response = redirect("accounts:profile")
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                user.language,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
            return response
    from phonebank.accounts import twofactor

    context = {
        "form": form,
        "history": own_history(user, zone=user.timezone or "UTC"),
        # A caller's vetting is per campaign: their standing in each of theirs.
        "memberships": user.memberships.select_related("campaign").order_by("campaign__name")
        if user.role == "caller"
        else [],
        "second_factor": twofactor.enabled(user),
        "backup_left": user.backup_codes.filter(used_at__isnull=True).count(),
    }
    return render(request, "accounts/profile.html", context, status=400 if form.errors else 200)


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    form_class = BoundedPasswordChangeForm
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form):
        messages.success(self.request, _("Your password is changed."))
        return super().form_valid(form)


# --- two-factor sign-in (staff) -----------------------------------------------------------


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("home")


def _second_factor_passed(request) -> None:
    request.session.cycle_key()  # a new session key once the second factor is proved
    request.session[SECOND_FACTOR_SESSION_KEY] = request.user.pk


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def second_factor_verify(request):
    from phonebank.accounts import twofactor

    if not twofactor.enabled(request.user):
        return redirect(f"{reverse('accounts:2fa_setup')}?next={_next_url(request)}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ok = twofactor.verify(request.user, form.cleaned_data["code"])
        except DomainError as exc:
            form.add_error("code", str(exc))
        else:
            if ok:
                _second_factor_passed(request)
                return redirect(_next_url(request))
            form.add_error("code", _("That code is not right, or it was used already."))
    context = {"form": form, "next": _next_url(request)}
    return render(request, "accounts/2fa_verify.html", context, status=400 if form.errors else 200)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def second_factor_setup(request):
    """Set up (or replace) the authenticator: scan, confirm with a code, keep backup codes.
    Replacing one needs the second factor passed in this session first."""
    import segno

    from phonebank.accounts import twofactor

    user = request.user
    if not user.is_staff_role:
        raise PermissionDenied
    if twofactor.enabled(user) and request.session.get(SECOND_FACTOR_SESSION_KEY) != user.pk:
        return redirect(f"{reverse('accounts:2fa_verify')}?next={request.path}")
    form = CodeForm(request.POST or None)
    secret = user.second_factor.pending_secret if hasattr(user, "second_factor") else ""
    if request.method == "POST" and form.is_valid() and secret:
        try:
            codes = twofactor.setup_confirm(user, form.cleaned_data["code"])
        except DomainError as exc:
            form.add_error("code", str(exc))
        else:
            _second_factor_passed(request)
            context = {"codes": codes, "next": _next_url(request)}
            return render(request, "accounts/2fa_codes.html", context)
    if request.method == "GET" or not secret:
        secret = twofactor.setup_start(user)
    uri = twofactor.provisioning_uri(user, secret)
    qr = segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff")
    context = {
        "form": form,
        "qr": mark_safe(qr),  # noqa: S308 - segno's own SVG of our own URI  # nosec B308 B703
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "next": _next_url(request),
        "replacing": twofactor.enabled(user),
    }
    return render(request, "accounts/2fa_setup.html", context, status=400 if form.errors else 200)


@never_cache
@login_required
@require_POST
def second_factor_codes(request):
    """New backup codes (the old ones stop working); needs the second factor passed."""
    from phonebank.accounts import twofactor

    if not twofactor.enabled(request.user) or (
        request.session.get(SECOND_FACTOR_SESSION_KEY) != request.user.pk
    ):
        raise PermissionDenied
    codes = twofactor.backup_codes_renew(request.user)
    return render(
        request, "accounts/2fa_codes.html", {"codes": codes, "next": reverse("accounts:profile")}
    )
