"""The package's default URLs: oidc_client:login, :callback, :logout."""

from django.urls import include, path

from django_rp2 import views

urlpatterns = [
    path("", views.home, name="home"),
    path("auth/", include("dbd.oidc_client.urls")),
]
