from django.urls import path

from phonebank.tlog import views

app_name = "log"
urlpatterns = [
    path("checkpoint", views.checkpoint, name="checkpoint"),
    path("key", views.key, name="key"),
    path("keys", views.keys, name="keys"),
    path("leaves", views.leaves, name="leaves"),
    path("proof/inclusion", views.inclusion, name="inclusion"),
    path("proof/consistency", views.consistency, name="consistency"),
    path("tile/<path:path>", views.tile, name="tile"),
]
