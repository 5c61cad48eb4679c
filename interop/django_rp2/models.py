from django.conf import settings
from django.db import models


class OpenIDProfile(models.Model):
    """The link of a provider account (issuer, subject) to a Django user, as in
    dbd-django-oidc-client's README (the package owns no models)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="unique_issuer_subject")]
