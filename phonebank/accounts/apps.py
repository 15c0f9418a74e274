from django.apps import AppConfig


class Config(AppConfig):
    name = "phonebank.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from phonebank.audit.services import log_action

        # Every way in (our sign-in page, the Django admin) goes through these signals,
        # so the audit trail of sign-ins cannot be bypassed by a second login form.
        def signed_in(sender, request, user, **kwargs):
            import time

            from phonebank.accounts.middleware import SessionTimeoutMiddleware

            log_action(user, "accounts.signin", actor=user)
            if request is not None and hasattr(request, "session"):
                now = int(time.time())  # the absolute and idle timeouts count from here
                request.session[SessionTimeoutMiddleware.STARTED] = now
                request.session[SessionTimeoutMiddleware.SEEN] = now

        def signed_out(sender, request, user, **kwargs):
            if user is not None:
                log_action(user, "accounts.signout", actor=user)

        user_logged_in.connect(signed_in, dispatch_uid="audit-signin", weak=False)
        user_logged_out.connect(signed_out, dispatch_uid="audit-signout", weak=False)
