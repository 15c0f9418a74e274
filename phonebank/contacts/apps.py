from django.apps import AppConfig


class Config(AppConfig):
    name = "phonebank.contacts"
    label = "contacts"
    default_auto_field = "django.db.models.BigAutoField"
