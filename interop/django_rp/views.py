from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render


@login_required
def home(request):
    """The protected page: who is signed in, and a logout button (POST, CSRF)."""
    return render(request, "home.html", {"email": request.user.email})


@login_required
def staff(request):
    """Only for members of the `staff` group (django_rp.backends.GroupsBackend)."""
    if not request.user.is_staff:
        raise PermissionDenied
    groups = ",".join(sorted(request.user.groups.values_list("name", flat=True)))
    return HttpResponse(f"Staff area. Groups: {groups}\n", content_type="text/plain")


def bye(request):
    """Where logout lands (LOGOUT_REDIRECT_URL and the post_logout_redirect_uri)."""
    return HttpResponse("Signed out.\n", content_type="text/plain")
