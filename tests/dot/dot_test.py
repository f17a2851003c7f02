# What the test provider adds to a stock Django OAuth Toolkit: a request counter and a PKCE
# watcher on the device grant (middleware), the page a paste login lands on, the test-control
# endpoints, and userinfo claims. None of it changes how an OAuth or OpenID endpoint answers.
import base64
import hashlib
import json
import threading
from urllib.parse import parse_qs

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
# PKCE on the device grant, as tests/idp counts it (GET /__test/device-pkce): device requests with
# a code_challenge, polls with a code_verifier, and polls whose verifier matches the challenge of
# their device code. The toolkit itself ignores both parameters there.
DEVICE_PKCE = ("challenges", "verifiers", "verified")
_device_pkce = dict.fromkeys(DEVICE_PKCE, 0)
_challenges = {}  # device code -> (code_challenge, code_challenge_method)
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class CountRequests:
    """Counts every request but the test-control ones, by endpoint."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/__test/"):
            with _lock:
                _counters[PATHS.get(request.path, "other")] += 1
        return self.get_response(request)


def _form(request):
    """The request's form parameters (first value of each), or {} for any other body."""
    if request.method != "POST" or request.content_type != "application/x-www-form-urlencoded":
        return {}
    # Reading the body here keeps it for the view (Django caches it).
    pairs = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in pairs.items()}


class WatchDevicePkce:
    """Notes the PKCE parameters of device requests and polls; the answers are the toolkit's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = PATHS.get(request.path)
        params = _form(request) if path in ("device", "token") else {}
        if path == "token" and params.get("grant_type") == DEVICE_GRANT:
            self.poll(params)
        response = self.get_response(request)
        if path == "device" and "code_challenge" in params and response.status_code == 200:
            try:
                device_code = json.loads(response.content)["device_code"]
            except (ValueError, KeyError, TypeError):
                return response
            with _lock:
                _device_pkce["challenges"] += 1
                _challenges[device_code] = (params["code_challenge"], params.get("code_challenge_method", "plain"))
        return response

    @staticmethod
    def poll(params):
        verifier = params.get("code_verifier")
        if verifier is None:
            return
        with _lock:
            _device_pkce["verifiers"] += 1
            stored = _challenges.get(params.get("device_code", ""))
            if stored is None:
                return
            challenge, method = stored
            derived = verifier
            if method == "S256":
                digest = hashlib.sha256(verifier.encode()).digest()
                derived = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if derived == challenge:
                _device_pkce["verified"] += 1


def device_pkce(request):
    with _lock:
        return JsonResponse(dict(_device_pkce))


def counters(request):
    with _lock:
        return JsonResponse(dict(_counters))


@csrf_exempt
def reset(request):
    if request.method != "POST":
        return JsonResponse({"error": "POST only"}, status=405)
    with _lock:
        _counters.update(dict.fromkeys(ENDPOINTS, 0))
        _device_pkce.update(dict.fromkeys(DEVICE_PKCE, 0))
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
