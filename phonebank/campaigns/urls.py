from django.urls import path

from phonebank.campaigns import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_create, name="create"),
    path("<slug:slug>/", views.campaign_detail, name="detail"),
    path("<slug:slug>/playbook/", views.playbook, name="playbook"),
    path("<slug:slug>/playbook/<int:pk>/", views.playbook, name="playbook_entry"),
    path("<slug:slug>/rules/", views.rules, name="rules"),
    path("<slug:slug>/people/", views.people, name="people"),
]
