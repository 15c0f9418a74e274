from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from phonebank.accounts import services
from phonebank.accounts.forms import ProfileForm, SignUpForm
from phonebank.accounts.models import Role
from phonebank.lib.errors import DomainError


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
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
    history = own_history(user, zone=user.timezone or "UTC")
    status = 400 if form.errors else 200
    return render(
        request, "accounts/profile.html", {"form": form, "history": history}, status=status
    )


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form):
        messages.success(self.request, _("Your password is changed."))
        return super().form_valid(form)
