from django.apps import AppConfig


class Config(AppConfig):
    name = "phonebank.calling"
    label = "calling"
    default_auto_field = "django.db.models.BigAutoField"
