"""The role setup of OneLogin's mozilla-django-oidc tutorial: a custom backend
that maps the provider's `groups` claim (scope `groups`) to Django groups, and
the `staff` group to is_staff, at every sign-in."""

from django.contrib.auth.models import Group
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

STAFF_GROUP = "staff"


class GroupsBackend(OIDCAuthenticationBackend):
    def create_user(self, claims):
        return self.update_user(super().create_user(claims), claims)

    def update_user(self, user, claims):
        names = claims.get("groups") or []
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in names])
        user.is_staff = STAFF_GROUP in names
        user.save()
        return user
