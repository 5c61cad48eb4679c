from django.urls import include, path

from django_rp import views

urlpatterns = [
    path("", views.home, name="home"),
    path("staff/", views.staff, name="staff"),
    path("bye/", views.bye, name="bye"),
    path("oidc/", include("mozilla_django_oidc.urls")),
]
