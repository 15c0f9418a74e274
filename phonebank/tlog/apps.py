from django.apps import AppConfig


class Config(AppConfig):
    name = "phonebank.tlog"
    label = "tlog"
    verbose_name = "Transparency log"
    default_auto_field = "django.db.models.BigAutoField"
