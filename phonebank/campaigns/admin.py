from django.contrib import admin

from phonebank.campaigns.models import Campaign, PlaybookEntry


class PlaybookInline(admin.StackedInline):
    model = PlaybookEntry
    extra = 0


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "calling_hours", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [PlaybookInline]
