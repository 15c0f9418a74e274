from django.urls import path

from phonebank.dashboards import views

app_name = "dashboards"
urlpatterns = [
    path("", views.overall, name="overall"),
    path("charts/<slug:name>.svg", views.overall_chart, name="overall_chart"),
    path("<slug:slug>/", views.campaign, name="campaign"),
    path("<slug:slug>/objections/", views.objections, name="objections"),
    path("<slug:slug>/charts/<slug:name>.svg", views.chart, name="chart"),
]
