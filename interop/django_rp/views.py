from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render


@login_required
def home(request):
    """The protected page: who is signed in, and a logout button (POST, CSRF)."""
    return render(request, "home.html", {"email": request.user.email})


def bye(request):
    """Where logout lands (LOGOUT_REDIRECT_URL and the post_logout_redirect_uri)."""
    return HttpResponse("Signed out.\n", content_type="text/plain")
