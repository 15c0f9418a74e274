from django.urls import path

from phonebank.calling import views

app_name = "calling"
urlpatterns = [
    path("", views.home, name="home"),
    path("when/", views.when, name="when"),
    path("<slug:slug>/", views.workspace, name="workspace"),
    path("<slug:slug>/next", views.next_contact, name="next"),
    path("<slug:slug>/practice/", views.practice, name="practice"),
    path("<slug:slug>/practice/outcome", views.practice_outcome, name="practice_outcome"),
    path("<slug:slug>/targets/<int:pk>/outcome", views.outcome, name="outcome"),
    path("<slug:slug>/targets/<int:pk>/release", views.release, name="release"),
    path("<slug:slug>/targets/<int:pk>/renew", views.renew, name="renew"),
]
