from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language

from phonebank.accounts import views as account_views
from phonebank.api.api import api

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", account_views.healthz, name="healthz"),
    # Early: every API request (claims and outcomes are the hot path) resolves its view here,
    # and no other pattern begins with "api/".
    path("api/", api.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    path("join/<str:token>/", account_views.join, name="join"),
    path(
        "accounts/",
        include(
            (
                [
                    path("login/", account_views.SignInView.as_view(), name="login"),
                    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
                    path("profile/", account_views.profile, name="profile"),
                    path("2fa/", account_views.second_factor_verify, name="2fa_verify"),
                    path("2fa/setup/", account_views.second_factor_setup, name="2fa_setup"),
                    path("2fa/codes/", account_views.second_factor_codes, name="2fa_codes"),
                    path("password/", account_views.PasswordChangeView.as_view(), name="password"),
                ],
                "accounts",
            )
        ),
    ),
    path("campaigns/", include("phonebank.campaigns.urls")),
    path("call/", include("phonebank.calling.urls")),
    path("dashboards/", include("phonebank.dashboards.urls")),
    path("", include("phonebank.contacts.urls")),
    path("registry/", include("phonebank.registry.urls")),
    path("log/", include("phonebank.tlog.urls")),
    path("admin/", admin.site.urls),
]
