from django.urls import path

from phonebank.contacts import views

app_name = "contacts"
urlpatterns = [
    path("campaigns/<slug:slug>/contacts/", views.contact_list, name="list"),
    path("campaigns/<slug:slug>/imports/", views.import_list, name="imports"),
    path("imports/<int:pk>/", views.import_detail, name="import"),
    path("imports/<int:pk>/rejects.csv", views.import_rejects, name="import_rejects"),
    path("do-not-call/", views.dnc, name="dnc"),
    path("do-not-call/<int:pk>/remove", views.dnc_remove, name="dnc_remove"),
]
