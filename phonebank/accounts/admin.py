from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.shortcuts import redirect

from phonebank.accounts import services
from phonebank.accounts.models import ApiToken, Membership, User
from phonebank.audit.services import log_action


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["campaign"]
    # Each campaign's coordinators vet its callers on its People page (audited, with effects
    # on leases and callbacks); a membership added here starts pending.
    readonly_fields = ["status", "trusted"]


@admin.register(User)
class PhonebankUserAdmin(UserAdmin):
    """Role and membership changes made here are audited like everywhere else."""

    list_display = ["username", "role", "is_active", "suspended", "last_login"]
    list_filter = ["role", "is_active", "suspended"]
    fieldsets = [
        *UserAdmin.fieldsets,
        ("phonebank", {"fields": ["role", "language", "timezone", "suspended"]}),
    ]
    inlines = [MembershipInline]
    actions = ["reset_second_factor", "suspend_everywhere", "lift_suspension"]
    # Suspension has effects (sessions, tokens, leases, callbacks) and is audited: the
    # actions below do it.
    readonly_fields = ["suspended"]

    @admin.action(
        description="Suspend in every campaign (ends sessions, revokes tokens, returns contacts)"
    )
    def suspend_everywhere(self, request, queryset):
        done = 0
        for user in queryset.filter(role="caller"):
            services.user_suspend(user=user, actor=request.user)
            done += 1
        self.message_user(request, f"{done} caller(s) suspended in every campaign.")

    @admin.action(description="Lift the suspension in every campaign")
    def lift_suspension(self, request, queryset):
        done = 0
        for user in queryset.filter(role="caller", suspended=True):
            services.user_unsuspend(user=user, actor=request.user)
            done += 1
        self.message_user(request, f"{done} caller(s) no longer suspended by an admin.")

    @admin.action(description="Reset the second factor (lost phone): set up anew at next sign-in")
    def reset_second_factor(self, request, queryset):
        from phonebank.accounts import twofactor

        for user in queryset:
            twofactor.reset(user=user, actor=request.user)
        self.message_user(request, f"Second factor reset for {queryset.count()} user(s).")

    def save_model(self, request, obj, form, change):
        if change and "role" in form.changed_data:
            new_role = obj.role
            obj.role = form.initial["role"]
            super().save_model(request, obj, form, change)
            services.user_role_set(user=obj, role=new_role, actor=request.user)
        else:
            obj.is_staff = obj.is_superuser = obj.role == "admin"
            super().save_model(request, obj, form, change)
            if not change:
                log_action(obj, "accounts.user.created", actor=request.user, role=obj.role)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for membership in formset.deleted_objects:
            services.membership_remove(membership=membership, actor=request.user)
        for membership in instances:
            services.membership_add(
                user=membership.user, campaign=membership.campaign, actor=request.user
            )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["__str__", "user", "name", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["user", "key_hash", "hint", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # tokens are made with `phonebank token create`, which shows them once

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            services.token_revoke(token=token, actor=request.user)


def _password_change(request, extra_context=None):
    """The Django admin's "change password" is the site's own page: its form refuses an
    over-long old password before checking it against the hash (the admin's form would hash
    any length)."""
    return redirect("accounts:password")


admin.site.password_change = _password_change
