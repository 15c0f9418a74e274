from django.apps import AppConfig


class Config(AppConfig):
    name = "phonebank.dashboards"
    label = "dashboards"
    default_auto_field = "django.db.models.BigAutoField"
