from django.urls import path

from phonebank.registry import views

app_name = "registry"
urlpatterns = [
    path("", views.index, name="index"),
    path("declarations/", views.declarations, name="declarations"),
    path("provinces/", views.provinces_page, name="provinces"),
    path("stats.json", views.stats_json, name="stats"),
    path("chart/<slug:name>.svg", views.chart, name="chart"),
    path("declare/", views.declare, name="declare"),
    path("check/", views.check, name="check"),
    path("withdraw/", views.withdraw, name="withdraw"),
]
