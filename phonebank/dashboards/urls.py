from django.urls import path

from phonebank.dashboards import views

app_name = "dashboards"
urlpatterns = [
    path("", views.overall, name="overall"),
    path("charts/<slug:name>.svg", views.overall_chart, name="overall_chart"),
    path("<slug:slug>/", views.campaign, name="campaign"),
    path("<slug:slug>/objections/", views.objections, name="objections"),
    path("<slug:slug>/charts/<slug:name>.svg", views.chart, name="chart"),
    path("<slug:slug>/exports/", views.export_list, name="exports"),
    path("<slug:slug>/exports/<int:pk>/download", views.export_download, name="export_download"),
]
