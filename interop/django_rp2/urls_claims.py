"""The same URLs, with the claims hook's callback view (django_rp2.claims)."""

from django.urls import include, path
from dbd.oidc_client.views import BaseOpenIDConnectLogoutView, BaseOpenIDConnectRedirectView

from django_rp2 import views
from django_rp2.claims import CallbackView

oidc_client = [
    path("login/", BaseOpenIDConnectRedirectView.as_view(), name="login"),
    path("callback/", CallbackView.as_view(), name="callback"),
    path("logout/", BaseOpenIDConnectLogoutView.as_view(), name="logout"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("auth/", include((oidc_client, "oidc_client"))),
]
