from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    """The protected page: who is signed in, and the logout link (the package's logout view is a GET)."""
    return render(request, "home.html", {"email": request.user.email, "name": request.user.first_name})
