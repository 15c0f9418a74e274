"""A shorter middleware stack for the JSON API.

API calls carry a bearer token and no cookies, so the session, CSRF, authentication,
second-factor, messages, htmx, time zone and sign-in throttling middleware have nothing to
do for them; together they cost about as much CPU as a whole ``/healthz`` request
(docs/benchmarks.md). ``ApiStack`` sits right after ``SecurityMiddleware`` (whose headers
and HTTPS redirect every request keeps) and sends ``/api/`` requests through
``settings.API_MIDDLEWARE`` to the view; every other request goes on down ``MIDDLEWARE``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.handlers.exception import convert_exception_to_response
from django.urls import resolve
from django.utils import timezone
from django.utils.module_loading import import_string

from phonebank.accounts.policy import API, rule_for

PREFIX = "/api/"
# Hooks that only Django's handler calls: a middleware needing them cannot run here.
_HANDLER_HOOKS = ("process_view", "process_exception", "process_template_response")


def _view(request):
    """What Django's handler does between the middleware and a view, for the API's views
    (django-ninja's, which answer their own errors and are exempt from CSRF): resolve,
    check the view is one of the API's in the access policy (accounts/policy.py), call. A
    Resolver404 or an uncaught error becomes Django's own 404 or 500 answer."""
    match = resolve(request.path_info)
    request.resolver_match = match
    if rule_for(match.view_name) != API:  # what PolicyMiddleware checks for other paths
        raise PermissionDenied
    response = match.func(request, *match.args, **match.kwargs)
    if response is None:
        raise ValueError(f"{match.func!r} returned None")
    return response


class ApiStack:
    def __init__(self, get_response):
        self.get_response = get_response
        handler = convert_exception_to_response(_view)
        for path in reversed(settings.API_MIDDLEWARE):
            instance = import_string(path)(handler)
            if any(hasattr(instance, hook) for hook in _HANDLER_HOOKS):
                raise ImproperlyConfigured(f"API_MIDDLEWARE: {path} needs Django's handler")
            handler = convert_exception_to_response(instance)
        self.api = handler

    def __call__(self, request):
        if not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        request.get_host()  # ALLOWED_HOSTS, checked for pages by CommonMiddleware
        # A page served before on this thread may have activated its user's time zone.
        timezone.deactivate()
        response = self.api(request)
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))  # as CommonMiddleware
        return response


# What a JSON answer may load or be framed by: nothing. One fixed header, set without
# building a policy per response as django-csp does for pages (about 40 µs a request).
API_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class ApiContentSecurityPolicy:
    """The Content-Security-Policy of the API's answers (in API_MIDDLEWARE)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", API_CONTENT_SECURITY_POLICY)
        return response
