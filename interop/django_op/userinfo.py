"""OIDC_USERINFO: django-oidc-provider's hook for the standard claims.

The package hands it a dict of every standard claim (all empty) and the
Django user; what it fills is released by scope (`profile`: name, given_name,
family_name, preferred_username, …; `email`: email, email_verified) at the
UserInfo endpoint. This is the shape of the example in the package's docs.
"""


def userinfo(claims, user):
    claims["name"] = user.get_full_name()
    claims["given_name"] = user.first_name
    claims["family_name"] = user.last_name
    claims["preferred_username"] = user.username
    claims["email"] = user.email
    claims["email_verified"] = True
    return claims
