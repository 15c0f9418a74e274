from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache

from phonebank.accounts.models import Role


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
