# What the test provider adds to a stock Django OAuth Toolkit: a request counter (middleware), the
# page a paste login lands on, the test-control endpoints, and userinfo claims. None of it changes
# how an OAuth or OpenID endpoint answers.
import threading

from django.http import HttpResponse, JsonResponse
from django.utils.html import escape
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.oauth2_validators import OAuth2Validator

# Endpoint names as tests/idp counts them.
ENDPOINTS = ["token", "authorize", "device", "revocation", "discovery", "jwks", "userinfo", "other"]
PATHS = {
    "/token/": "token",
    "/authorize/": "authorize",
    "/device-authorization/": "device",
    "/revoke_token/": "revocation",
    "/.well-known/openid-configuration": "discovery",
    "/.well-known/oauth-authorization-server": "discovery",
    "/.well-known/jwks.json": "jwks",
    "/userinfo/": "userinfo",
}

_lock = threading.Lock()
_counters = dict.fromkeys(ENDPOINTS, 0)


class CountRequests:
    """Counts every request but the test-control ones, by endpoint."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/__test/"):
            with _lock:
                _counters[PATHS.get(request.path, "other")] += 1
        return self.get_response(request)


def counters(request):
    with _lock:
        return JsonResponse(dict(_counters))


@csrf_exempt
def reset(request):
    if request.method != "POST":
        return JsonResponse({"error": "POST only"}, status=405)
    with _lock:
        _counters.update(dict.fromkeys(ENDPOINTS, 0))
    return JsonResponse({"ok": True})


def show_code(request):
    """The paste flow's redirect URI: shows the code and state to copy (ids as in tests/idp)."""
    q = request.GET
    if "error" in q:
        body = (
            f'<h1>Authorization failed</h1><p>error: <code id="error">{escape(q["error"])}</code></p>'
            f'<p>error_description: <span id="error_description">{escape(q.get("error_description", ""))}</span></p>'
            f'<p>state: <code id="state">{escape(q.get("state", ""))}</code></p>'
        )
    else:
        body = (
            f'<h1>Copy this code into latchkey</h1><p>code: <code id="code">{escape(q.get("code", ""))}</code></p>'
            f'<p>state: <code id="state">{escape(q.get("state", ""))}</code></p>'
            f'<pre id="url">{escape(request.build_absolute_uri())}</pre>'
        )
    return HttpResponse(f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>')


class Validator(OAuth2Validator):
    """The stock validator; only the userinfo endpoint answers with the user's name and email
    (the ID token keeps Django OAuth Toolkit's default: `sub`, the user's primary key, alone)."""

    def get_userinfo_claims(self, request):
        claims = super().get_userinfo_claims(request)
        user = request.user
        claims.update(
            {
                "name": user.get_full_name(),
                "preferred_username": user.get_username(),
                "email": user.email,
                "email_verified": True,
            }
        )
        return claims
